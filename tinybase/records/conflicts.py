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
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from tinybase.auth.principal import Principal
from tinybase.auth.ratelimit import SlidingWindowLimiter
from tinybase.errors import ConflictError

__all__ = ["CONFLICT_LIMIT", "CONFLICT_WINDOW_SECONDS", "ConflictBudget", "caller_key"]

_T = TypeVar("_T")

CONFLICT_LIMIT = 20
CONFLICT_WINDOW_SECONDS = 600.0


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
            ConflictError: the write conflicted (and stays counted).
        """
        if not guarded:
            return write()
        attempt = self._limiter.acquire(caller)
        try:
            result = write()
        except ConflictError:
            raise
        except BaseException:
            self._limiter.release(attempt)
            raise
        self._limiter.release(attempt)
        return result
