"""A budget per caller for writes whose answer could reveal a unique value the caller may
not read, so that 409s cannot be used to enumerate such values.

A create or update that collides with a unique value answers 409, and a 409 tells the
caller that the value exists. That is harmless when the caller may read every row and
column anyway; it is an oracle when the value sits in a write-only (``_``) or excluded
column (another user's ``_pin``), or in a row the read rule hides (another user's email).
Such writes (:meth:`RecordEngine.conflicts_may_reveal`) draw on a budget per caller: at
most ``limit`` units in any ``window`` seconds, then 429 with ``Retry-After`` for every
such write until the window moves on. The 409 itself names no column and no value. What a
write costs:

- a write that conflicts: one unit per record it carried (a bulk of 100 costs 100, so a
  bulk cannot halve a list of candidates per conflict);
- every record that sets a unique write-only or excluded column, whatever the outcome: a
  miss (the row is created) tells as much as a hit, so a search for one hidden value among
  N candidates costs N, not one conflict;
- a conflict ``IGNORE`` swallowed: one unit (it answers as if created, but the row is not
  there), reported by the engine through :func:`note_ignored_conflict`;
- anything else: nothing.

Each write holds a unit while it runs and settles its cost when it is done, so a burst of
concurrent guesses cannot all pass the check before the first cost is counted. A caller is
a user id, or the client's IP address (an IPv6 client's /64) for anonymous calls. Admins
are exempt. What stays open: a unique readable column in rows the read rule hides is set by
every legitimate create, so only its conflicts cost; a search there costs one create per
candidate (each leaving a row the caller owns) and one unit per value found.
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
    "note_records",
]

_T = TypeVar("_T")

CONFLICT_LIMIT = 20
CONFLICT_WINDOW_SECONDS = 600.0


class _Tally:
    """What the guarded write running in this context reported (see the module)."""

    __slots__ = ("records", "spent")

    def __init__(self) -> None:
        self.records = 0  # records the write carried
        self.spent = 0  # units due whatever the outcome


_tally: ContextVar[_Tally | None] = ContextVar("tinybase_conflict_tally", default=None)


def note_records(count: int, *, setting_hidden_unique: int = 0) -> None:
    """Tell the guarded write running now that it writes ``count`` records, of which
    ``setting_hidden_unique`` set a unique write-only or excluded column."""
    tally = _tally.get()
    if tally is not None:
        tally.records += count
        tally.spent += setting_hidden_unique


def note_ignored_conflict() -> None:
    """Tell the guarded write running now that a unique conflict was ignored (``IGNORE``)."""
    tally = _tally.get()
    if tally is not None:
        tally.spent += 1


def caller_key(principal: Principal, client_ip: str) -> str:
    """Whose budget a write draws on: the user's, or the client address's when anonymous."""
    return f"user:{principal.user_id}" if principal.user_id else f"ip:{client_ip}"


class ConflictBudget:
    """Runs writes that may reveal hidden values within each caller's conflict budget.

    Args:
        limit: units allowed per caller and window (a write in flight holds one).
        window: window length in seconds.
    """

    def __init__(
        self, *, limit: int = CONFLICT_LIMIT, window: float = CONFLICT_WINDOW_SECONDS
    ) -> None:
        self._limiter = SlidingWindowLimiter(
            limit=limit, window=window, detail="Too many conflicting writes; try again later"
        )

    def run(self, caller: Hashable, write: Callable[[], _T], *, guarded: bool) -> _T:
        """``write()``, its cost counted against ``caller``'s budget when ``guarded``.

        Raises:
            RateLimitedError: the caller has used up the budget (nothing is written).
            ConflictError: the write conflicted (it costs one unit per record).
        """
        if not guarded:
            return write()
        attempt = self._limiter.acquire(caller)
        tally = _Tally()
        token = _tally.set(tally)
        cost = 0
        try:
            result = write()
            cost = tally.spent
        except ConflictError:
            cost = max(tally.records, tally.spent, 1)
            raise
        finally:
            _tally.reset(token)
            self._limiter.settle(attempt, cost)
        return result
