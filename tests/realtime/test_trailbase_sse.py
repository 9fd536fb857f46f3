"""TrailBase's subscribe endpoints over SSE: frames, rules per event, filters, refusals."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from tests.realtime.conftest import Instance
from tests.realtime.helpers import SseReader, register, sse

V1 = "/api/records/v1"


def _create(http: httpx.Client, api: str, headers: dict[str, str], **values: object) -> str:
    response = http.post(f"{V1}/{api}", json=values, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["ids"][0]


def _data(reader: SseReader) -> dict:
    frame = reader.next()
    assert isinstance(frame, dict), frame
    return frame


def test_table_subscription_sees_only_readable_rows(http: httpx.Client, instance: Instance) -> None:
    alice, bob = instance.alice, instance.bob
    with sse(http, f"{V1}/notes/subscribe/*", alice.headers) as reader:
        assert reader.next(skip_pings=False) == ": ping"
        _create(http, "notes", bob.headers, title="bob's")  # never reaches alice
        mine = _create(http, "notes", alice.headers, title="mine", _secret="s")
        event = _data(reader)
        assert event == {
            "Insert": {
                "id": mine,
                "owner": alice.id,
                "title": "mine",
                "score": None,
                "grp": None,
                "body": None,
            },
            "seq": 1,
        }
        assert (
            http.patch(f"{V1}/notes/{mine}", json={"score": 3}, headers=alice.headers).status_code
            == 200
        )
        assert _data(reader)["Update"]["score"] == 3
        assert http.delete(f"{V1}/notes/{mine}", headers=alice.headers).status_code == 200
        event = _data(reader)
        assert event["Delete"]["id"] == mine and event["seq"] == 3
        assert reader.nothing_within(0.3)
    raw = bytes(reader.raw)
    assert b"\r" not in raw and b"_secret" not in raw and b"event:" not in raw


def test_record_subscription_ends_when_the_record_is_no_longer_readable(
    http: httpx.Client, instance: Instance
) -> None:
    alice, bob, admin = instance.alice, instance.bob, instance.admin
    record = _create(http, "notes", alice.headers, title="watched")
    with sse(http, f"{V1}/notes/subscribe/{record}", alice.headers) as reader:
        other = _create(http, "notes", alice.headers, title="other")
        http.patch(f"{V1}/notes/{other}", json={"score": 1}, headers=alice.headers)
        http.patch(f"{V1}/notes/{record}", json={"score": 2}, headers=alice.headers)
        assert _data(reader) == {
            "Update": {
                "id": record,
                "owner": alice.id,
                "title": "watched",
                "score": 2,
                "grp": None,
                "body": None,
            },
            "seq": 1,
        }
        # The admin hands the record to bob: alice may no longer read it.
        response = http.patch(f"{V1}/notes/{record}", json={"owner": bob.id}, headers=admin.headers)
        assert response.status_code == 200, response.text
        assert _data(reader) == {"Error": {"status": 1, "message": "Access denied"}, "seq": 2}
        assert reader.next() is None  # the stream ended


def test_filter_on_a_table_subscription(http: httpx.Client, instance: Instance) -> None:
    alice = instance.alice
    path = f"{V1}/notes/subscribe/*?filter[score][$gte]=10&filter[title][$like]=keep%25"
    with sse(http, path, alice.headers) as reader:
        _create(http, "notes", alice.headers, title="keep low", score=1)
        _create(http, "notes", alice.headers, title="drop high", score=50)
        kept = _create(http, "notes", alice.headers, title="keep high", score=10)
        event = _data(reader)
        assert (event["Insert"]["id"], event["seq"]) == (kept, 1)
        assert reader.nothing_within(0.3)


def test_rule_with_a_query_per_event(http: httpx.Client, instance: Instance) -> None:
    """``docs``: readable by members of the row's group (an EXISTS sub-query)."""
    alice, bob, admin = instance.alice, instance.bob, instance.admin
    # alice is in group "a" (the table has no API: written straight by the admin's SQL)
    with (
        sse(http, f"{V1}/docs/subscribe/*", alice.headers) as reader_alice,
        sse(http, f"{V1}/docs/subscribe/*", bob.headers) as reader_bob,
    ):
        _add_member(instance, alice.id, "a")
        in_a = _create(http, "docs", bob.headers, title="for a", grp="a")
        _create(http, "docs", bob.headers, title="for b", grp="b")
        assert _data(reader_alice)["Insert"]["id"] == in_a
        assert reader_alice.nothing_within(0.3)
        assert reader_bob.nothing_within(0.1)  # bob is in no group
        _create(http, "docs", admin.headers, title="also a", grp="a", owner=admin.id)
        assert _data(reader_alice)["Insert"]["title"] == "also a"


def _add_member(instance: Instance, user_id: str, group: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(instance.db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO members (member, grp) VALUES (:m, :g)"),
                {"m": user_id, "g": group},
            )
    finally:
        engine.dispose()


def test_public_api_strips_excluded_columns_for_anonymous_subscribers(
    http: httpx.Client, instance: Instance
) -> None:
    with sse(http, f"{V1}/public_notes/subscribe/*") as reader:
        record = _create(http, "notes", instance.alice.headers, title="t", grp="g")
        event = _data(reader)
        assert event["Insert"] == {
            "id": record,
            "owner": instance.alice.id,
            "title": "t",
            "score": None,
            "body": None,
        }


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/nothing/subscribe/*", "alice", 404),
        ("/quiet/subscribe/*", "alice", 403),  # subscriptions disabled
        ("/notes/subscribe/*", None, 401),  # anonymous: signing in would help
        ("/notes/subscribe/01900000-0000-7000-8000-000000000000", "alice", 404),
        ("/notes/subscribe/*?filter[_secret]=x", "alice", 400),  # a write-only column
        ("/notes/subscribe/*?ws=true", "alice", 400),  # no upgrade
    ],
)
def test_subscribe_refusals(
    http: httpx.Client, instance: Instance, path: str, who: str | None, status: int
) -> None:
    headers = instance.alice.headers if who else {}
    response = httpx.get(f"{instance.base}{V1}{path}", headers=headers)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_another_users_record_cannot_be_subscribed(http: httpx.Client, instance: Instance) -> None:
    record = _create(http, "notes", instance.bob.headers, title="bob's only")
    response = http.get(f"{V1}/notes/subscribe/{record}", headers=instance.alice.headers)
    assert response.status_code == 404


def test_idle_streams_get_heartbeats_and_end_when_the_session_is_revoked(
    http: httpx.Client, instance: Instance
) -> None:
    """Heartbeats every 0.5 s here (conftest); a logout ends the stream at the next one."""
    carol = register(instance.base, "carol@example.com")
    with sse(http, f"{V1}/notes/subscribe/*", carol.headers) as reader:
        assert reader.next(skip_pings=False) == ": ping"
        started = time.monotonic()
        assert reader.next(3, skip_pings=False) == ": ping"
        assert 0.3 < time.monotonic() - started < 2
        response = http.post("/api/auth/logout", json={"all": True}, headers=carol.headers)
        assert response.status_code == 204
        assert reader.next(5) == {
            "Error": {"status": 1, "message": "the session was revoked"},
            "seq": 1,
        }
        assert reader.next(5) is None


HOSTILE_QUERIES = [
    "?filter[title][$re]=" + "(" * 512,
    "?filter[title][$re]=a%7B4294967296%7D",
    "?filter[score][$gt]=1e400",
    "?filter[$or][x][title]=1",
    "?filter[title]=%ff",
    "?filter=" + "x" * 5000,
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_subscribe_queries_are_4xx(
    http: httpx.Client, instance: Instance, query: str
) -> None:
    """What tests/api/test_attack_review.py sends every other route (it skips streams)."""
    for path in ("/notes/subscribe/*", "/public_notes/subscribe/*"):
        with http.stream("GET", f"{V1}{path}{query}", headers=instance.alice.headers) as answer:
            if answer.status_code == 200:  # a valid filter after all: a stream opened
                continue
            assert 400 <= answer.status_code < 500, (path, query, answer.status_code)
            assert set(orjson.loads(answer.read())) == {"detail"}
