"""A subscriber's ``$re`` filter cannot stall realtime for everyone.

Events are matched against filters in the router's worker thread, one event after the
other: a catastrophic pattern (``^(a+)+$`` on ``aaaa...!``) matched with Python's ``re``
backtracked for hours holding the GIL: the whole server stalled (a ``$like`` of a dozen
``%a`` too). Patterns now run with the time limit of the list filters' ``REGEXP`` (a
timed-out match does not match).
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.realtime.conftest import Instance
from tests.realtime.helpers import sse

V1 = "/api/records/v1"


@pytest.mark.parametrize(
    ("evil_filter", "title"),
    [
        ("filter[title][$re]=%5E(a%2B)%2B%24", "aaaa"),
        ("filter[title][$like]=" + "%25a" * 12 + "b", "a" * 12 + "b"),
    ],
    ids=["re", "like"],
)
def test_a_catastrophic_pattern_does_not_stop_other_subscribers(
    http: httpx.Client, instance: Instance, evil_filter: str, title: str
) -> None:
    alice, bob = instance.alice, instance.bob
    evil = f"{V1}/public_notes/subscribe/*?{evil_filter}"
    with (
        sse(http, evil) as attacker,
        sse(http, f"{V1}/notes/subscribe/*", bob.headers) as victim,
    ):
        attacker.next(skip_pings=False)  # the opening ping
        victim.next(skip_pings=False)
        bait = http.post(f"{V1}/notes", json={"title": "a" * 200 + "!"}, headers=alice.headers)
        assert bait.status_code == 200, bait.text
        started = time.monotonic()
        created = http.post(f"{V1}/notes", json={"title": "bob's"}, headers=bob.headers)
        assert created.status_code == 200, created.text
        event = victim.next(timeout=5.0)
        assert event["Insert"]["title"] == "bob's"
        assert time.monotonic() - started < 5.0
        assert attacker.nothing_within(0.3)  # the bait timed out: no match
        matching = http.post(f"{V1}/notes", json={"title": title}, headers=alice.headers)
        assert matching.status_code == 200, matching.text
        assert attacker.next(timeout=5.0)["Insert"]["title"] == title
