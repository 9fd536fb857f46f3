"""The sliding-window limiter: attempts are counted in the same locked step as the check."""

from __future__ import annotations

import threading

import pytest

from tinybase.auth.ratelimit import SlidingWindowLimiter
from tinybase.errors import RateLimitedError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_is_reached_after_the_allowed_attempts() -> None:
    limiter = SlidingWindowLimiter(limit=3, window=60, detail="Slow down", clock=Clock())
    for _ in range(3):
        limiter.acquire("ip")
    with pytest.raises(RateLimitedError) as raised:
        limiter.acquire("ip")
    assert raised.value.status_code == 429
    assert raised.value.detail == "Slow down"
    assert raised.value.headers == {"Retry-After": "60"}


def test_window_slides_one_attempt_at_a_time() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=2, window=60, clock=clock)
    limiter.acquire("ip")
    clock.now += 30
    limiter.acquire("ip")
    with pytest.raises(RateLimitedError) as raised:
        limiter.acquire("ip")
    assert raised.value.headers == {"Retry-After": "30"}
    clock.now += 30  # the first attempt left the window
    limiter.acquire("ip")
    with pytest.raises(RateLimitedError):
        limiter.acquire("ip")


def test_keys_are_independent_and_any_exhausted_key_blocks_without_counting() -> None:
    limiter = SlidingWindowLimiter(limit=1, window=60, clock=Clock())
    limiter.acquire(("ip", "1.2.3.4"))
    limiter.acquire(("ip", "5.6.7.8"), ("account", "a@example.com"))
    with pytest.raises(RateLimitedError):
        limiter.acquire(("ip", "9.9.9.9"), ("ip", "1.2.3.4"))
    # The refused attempt counted for no key, not even the free one.
    limiter.acquire(("ip", "9.9.9.9"))


def test_released_attempt_frees_its_place_and_only_its_own() -> None:
    limiter = SlidingWindowLimiter(limit=2, window=60, clock=Clock())
    kept = limiter.acquire("ip")
    given_back = limiter.acquire("ip")
    limiter.release(given_back)
    limiter.acquire("ip")
    assert limiter.try_acquire("ip") is None
    limiter.release(kept)
    assert limiter.try_acquire("ip") is not None
    assert limiter.try_acquire("ip") is None


def test_concurrent_attempts_are_capped_at_the_limit() -> None:
    limiter = SlidingWindowLimiter(limit=10, window=60)
    start = threading.Barrier(40)
    admitted: list[bool] = []

    def guess() -> None:
        start.wait()
        admitted.append(limiter.try_acquire(("ip", "1.2.3.4"), ("account", "a")) is not None)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 10 and admitted.count(False) == 30
