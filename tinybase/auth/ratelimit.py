"""An in-process sliding-window limiter for failed login attempts (per IP, per account)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

from tinybase.errors import RateLimitedError

__all__ = ["SlidingWindowLimiter"]

# Above this many tracked keys, stale ones are swept so memory stays bounded.
_SWEEP_THRESHOLD = 10_000


class SlidingWindowLimiter:
    """Allows at most ``limit`` recorded events per key within any ``window`` seconds.

    In-process on purpose: each worker counts on its own, so with N workers an attacker gets
    at most N times the limit, which still defeats online password guessing.

    Args:
        limit: events allowed per key and window.
        window: window length in seconds.
        clock: monotonic seconds (injectable for tests of the window itself).
    """

    def __init__(
        self, *, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, *keys: Hashable) -> None:
        """Raise if any key has used up its window.

        Raises:
            RateLimitedError: with a ``Retry-After`` header (whole seconds).
        """
        now = self._clock()
        with self._lock:
            waits = [self._wait(key, now) for key in keys]
        wait = max(waits, default=0.0)
        if wait > 0:
            error = RateLimitedError("Too many login attempts; try again later")
            error.headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            raise error

    def record(self, *keys: Hashable) -> None:
        """Record one event for each key."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._events.setdefault(key, deque()).append(now)
            if len(self._events) > _SWEEP_THRESHOLD:
                self._sweep(now)

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
            key for key, events in self._events.items() if events[-1] <= now - self._window
        ]:
            del self._events[key]
