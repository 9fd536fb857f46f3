"""A budget of unique-value conflicts per caller, so a 409 cannot be used to enumerate
values the caller may not read.

A create or update that collides with a unique value answers 409, and a 409 tells the
caller that the value exists. That is harmless when the caller may read every row and
column anyway; it is an oracle when the value sits in a write-only (``_``) or excluded
column (another user's ``_pin``), or in a row the read rule hides (another user's email).
Such writes (:meth:`RecordEngine.conflicts_may_reveal`) draw on a budget per caller: at
most ``limit`` conflicts in any ``window`` seconds, then 429 with ``Retry-After`` for every
such write until the window moves on. The 409 itself names no column and no value.

Each write holds a slot while it runs and gives it back when it did not conflict, so a
burst of concurrent guesses cannot all pass the check before the first conflict is counted.
A caller is a user id, or the client's IP address for anonymous calls. Admins are exempt.

``IGNORE`` conflict resolution answers a conflicting create as if it had succeeded, but the
row is not there (a read or delete of the id answered is a 404), so an ignored conflict is
as telling as a 409: the engine reports it (:func:`note_ignored_conflict`) and it stays
counted like one, with the same answer as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TypeVar

from tinybase.auth.principal import Principal
from tinybase.auth.ratelimit import SlidingWindowLimiter
from tinybase.errors import ConflictError

__all__ = [
    "CONFLICT_LIMIT",
    "CONFLICT_WINDOW_SECONDS",
    "ConflictBudget",
    "caller_key",
    "note_ignored_conflict",
]

_T = TypeVar("_T")

CONFLICT_LIMIT = 20
CONFLICT_WINDOW_SECONDS = 600.0


# The ignored conflicts of the guarded write running in this context (None: none is).
_ignored: ContextVar[list[int] | None] = ContextVar("tinybase_ignored_conflicts", default=None)


def note_ignored_conflict() -> None:
    """Tell the guarded write running now that a unique conflict was ignored (``IGNORE``)."""
    counter = _ignored.get()
    if counter is not None:
        counter[0] += 1


def caller_key(principal: Principal, client_ip: str) -> str:
    """Whose budget a write draws on: the user's, or the client address's when anonymous."""
    return f"user:{principal.user_id}" if principal.user_id else f"ip:{client_ip}"


class ConflictBudget:
    """Runs writes that may reveal hidden values within each caller's conflict budget.

    Args:
        limit: conflicts allowed per caller and window (writes in flight count too).
        window: window length in seconds.
    """

    def __init__(
        self, *, limit: int = CONFLICT_LIMIT, window: float = CONFLICT_WINDOW_SECONDS
    ) -> None:
        self._limiter = SlidingWindowLimiter(
            limit=limit, window=window, detail="Too many conflicting writes; try again later"
        )

    def run(self, caller: Hashable, write: Callable[[], _T], *, guarded: bool) -> _T:
        """``write()``, counted against ``caller``'s budget when ``guarded``.

        Raises:
            RateLimitedError: the caller has used up the budget (nothing is written).
            ConflictError: the write conflicted (and stays counted; so does a write whose
                conflict ``IGNORE`` swallowed, see :func:`note_ignored_conflict`).
        """
        if not guarded:
            return write()
        attempt = self._limiter.acquire(caller)
        ignored = [0]
        token = _ignored.set(ignored)
        try:
            result = write()
        except ConflictError:
            raise
        except BaseException:
            self._limiter.release(attempt)
            raise
        finally:
            _ignored.reset(token)
        if not ignored[0]:
            self._limiter.release(attempt)
        return result
