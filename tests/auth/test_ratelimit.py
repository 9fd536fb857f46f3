"""The sliding-window limiter of failed logins."""

from __future__ import annotations

import pytest

from tinybase.auth.ratelimit import SlidingWindowLimiter
from tinybase.errors import RateLimitedError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_is_reached_after_the_allowed_events() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=3, window=60, clock=clock)
    for _ in range(3):
        limiter.check("ip")
        limiter.record("ip")
    with pytest.raises(RateLimitedError) as raised:
        limiter.check("ip")
    assert raised.value.status_code == 429
    assert raised.value.headers == {"Retry-After": "60"}


def test_window_slides_one_event_at_a_time() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=2, window=60, clock=clock)
    limiter.record("ip")
    clock.now += 30
    limiter.record("ip")
    with pytest.raises(RateLimitedError) as raised:
        limiter.check("ip")
    assert raised.value.headers == {"Retry-After": "30"}
    clock.now += 30  # the first event left the window
    limiter.check("ip")
    limiter.record("ip")
    with pytest.raises(RateLimitedError):
        limiter.check("ip")


def test_keys_are_independent_and_any_exhausted_key_blocks() -> None:
    limiter = SlidingWindowLimiter(limit=1, window=60, clock=Clock())
    limiter.record(("ip", "1.2.3.4"))
    limiter.check(("ip", "5.6.7.8"), ("account", "a@example.com"))
    with pytest.raises(RateLimitedError):
        limiter.check(("ip", "5.6.7.8"), ("ip", "1.2.3.4"))
