"""An in-process sliding-window limiter for guesses and other costly unauthenticated calls.

An attempt is counted *before* the work it guards (the password check, the token lookup),
in the same locked step as the check of the limit: 20 concurrent guesses against a limit of
10 get 10 checks and 10 refusals, never 20 checks that all saw a free window. An attempt that
turned out legitimate (a successful login) may then be given back with ``release``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from tinybase.errors import RateLimitedError

__all__ = ["Attempt", "SlidingWindowLimiter"]

# Above this many tracked keys, stale ones are swept so memory stays bounded.
_SWEEP_THRESHOLD = 10_000


@dataclass(frozen=True, slots=True)
class Attempt:
    """One counted attempt: the keys it was counted for, and when."""

    keys: tuple[Hashable, ...]
    at: float


class SlidingWindowLimiter:
    """Allows at most ``limit`` attempts per key within any ``window`` seconds.

    In-process on purpose: each worker counts on its own, so with N workers an attacker gets
    at most N times the limit, which still defeats online password guessing.

    Args:
        limit: attempts allowed per key and window.
        window: window length in seconds.
        detail: the message of the ``RateLimitedError`` raised past the limit.
        clock: monotonic seconds (injectable for tests of the window itself).
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float = 60.0,
        detail: str = "Too many attempts; try again later",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._detail = detail
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, *keys: Hashable) -> Attempt:
        """Count one attempt for every key, unless any key has used up its window.

        Returns:
            The attempt, for ``release`` if it turns out legitimate.

        Raises:
            RateLimitedError: nothing was counted; with a ``Retry-After`` header (whole
                seconds).
        """
        attempt, wait = self._take(keys)
        if attempt is None:
            error = RateLimitedError(self._detail)
            error.headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            raise error
        return attempt

    def try_acquire(self, *keys: Hashable) -> Attempt | None:
        """Like ``acquire``, but None instead of an error when a key has used up its window."""
        return self._take(keys)[0]

    def settle(self, attempt: Attempt, count: int) -> None:
        """Make ``attempt`` count ``count`` times in all: given back at 0, one more event
        per key for each above 1 (dated now, which keeps the events in order). Not checked
        against the limit: the work is done; it is what later attempts will see."""
        if count <= 0:
            self.release(attempt)
            return
        now = self._clock()
        with self._lock:
            for key in attempt.keys:
                self._events.setdefault(key, deque()).extend([now] * (count - 1))

    def release(self, attempt: Attempt) -> None:
        """Give back an attempt counted by ``acquire`` (it was legitimate, not a guess).

        Release an attempt once: it frees one place of its keys at its time.
        """
        with self._lock:
            for key in attempt.keys:
                events = self._events.get(key)
                if events is not None and attempt.at in events:
                    events.remove(attempt.at)

    def _take(self, keys: tuple[Hashable, ...]) -> tuple[Attempt | None, float]:
        """Check and count under one lock: the attempt, or None and the seconds to wait."""
        now = self._clock()
        with self._lock:
            wait = max((self._wait(key, now) for key in keys), default=0.0)
            if wait > 0:
                return None, wait
            for key in keys:
                self._events.setdefault(key, deque()).append(now)
            if len(self._events) > _SWEEP_THRESHOLD:
                self._sweep(now)
        return Attempt(keys, now), 0.0

    def _wait(self, key: Hashable, now: float) -> float:
        events = self._events.get(key)
        if not events:
            return 0.0
        while events and events[0] <= now - self._window:
            events.popleft()
        if len(events) < self._limit:
            return 0.0
        return events[len(events) - self._limit] + self._window - now

    def _sweep(self, now: float) -> None:
        for key in [
            key
            for key, events in self._events.items()
            if not events or events[-1] <= now - self._window
        ]:
            del self._events[key]
