"""TinyBase's realtime protocol: one SSE stream per client, many topics set by POST."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import jwt
import pytest

from tests.realtime.conftest import Instance
from tests.realtime.helpers import SseReader, User, sse
from tinybase.auth.signing_key import load_signing_key
from tinybase.data import database
from tinybase.utils import utcnow

CORE = "/api/collections"


@pytest.fixture(scope="module")
def tasks(instance: Instance) -> str:
    """A collection ``tasks`` under the ``owner`` preset."""
    owner = {op: "owner" for op in ("list", "read", "create", "update", "delete")}
    body = {
        "name": "tasks",
        "schema": {
            "fields": [{"name": "title", "type": "string"}, {"name": "n", "type": "integer"}]
        },
        "options": {"access": owner},
    }
    response = httpx.post(f"{instance.base}{CORE}", json=body, headers=instance.admin.headers)
    assert response.status_code == 201, response.text
    return "tasks"


def _connect(reader: SseReader) -> str:
    frame = reader.next()
    assert frame["type"] == "connect"
    return frame["client_id"]


def _subscribe(
    http: httpx.Client, user: User | None, client_id: str, topics: list[str]
) -> httpx.Response:
    headers = user.headers if user else {}
    body = {"client_id": client_id, "subscriptions": topics}
    return http.post("/api/realtime", json=body, headers=headers)


def _add(http: httpx.Client, user: User, data: dict) -> dict:
    response = http.post(f"{CORE}/tasks/records", json={"data": data}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_two_subscriptions_on_one_stream_with_owner_rules(
    http: httpx.Client, instance: Instance, tasks: str
) -> None:
    alice, bob = instance.alice, instance.bob
    watched = _add(http, alice, {"title": "watched", "n": 1})
    with sse(http, "/api/realtime") as reader:
        client_id = _connect(reader)
        topics = ["tasks?n[gte]=10", f"tasks/{watched['id']}"]
        assert _subscribe(http, alice, client_id, topics).status_code == 204
        _add(http, bob, {"title": "bob's", "n": 50})  # owner rule: never for alice
        _add(http, alice, {"title": "small", "n": 2})  # filtered out
        big = _add(http, alice, {"title": "big", "n": 20})
        event = reader.next()
        assert event == {
            "type": "record",
            "topic": "tasks?n[gte]=10",
            "action": "create",
            "record": {**big, "data": {"title": "big", "n": 20}},
        }
        assert set(event["record"]) == {
            "id",
            "collection_id",
            "owner_id",
            "data",
            "created_at",
            "updated_at",
        }
        response = http.patch(
            f"{CORE}/tasks/records/{watched['id']}",
            json={"data": {"n": 3}},
            headers=alice.headers,
        )
        assert response.status_code == 200, response.text
        event = reader.next()
        assert (event["topic"], event["action"], event["record"]["data"]["n"]) == (
            f"tasks/{watched['id']}",
            "update",
            3,
        )
        assert reader.nothing_within(0.3)


def test_subscribe_attacks(http: httpx.Client, instance: Instance, tasks: str) -> None:
    alice, bob = instance.alice, instance.bob
    bobs = _add(http, bob, {"title": "bob's", "n": 1})
    with sse(http, "/api/realtime") as reader:
        client_id = _connect(reader)
        # Another user's record: as if it did not exist.
        assert _subscribe(http, alice, client_id, [f"tasks/{bobs['id']}"]).status_code == 404
        assert _subscribe(http, None, client_id, ["tasks"]).status_code == 401
        assert _subscribe(http, alice, "not-a-client", ["tasks"]).status_code == 404
        assert _subscribe(http, alice, client_id, ["tasks?_secret=1"]).status_code == 400
        assert _subscribe(http, alice, client_id, ["tasks"]).status_code == 204
        # The stream is alice's now: bob cannot take it over.
        assert _subscribe(http, bob, client_id, ["tasks"]).status_code == 403
        _add(http, bob, {"title": "still bob's", "n": 2})
        assert reader.nothing_within(0.3)
    forged, expired = _bad_tokens(instance, alice)
    for token in (forged, expired, "garbage"):
        headers = {"Authorization": f"Bearer {token}"}
        body = {"client_id": client_id, "subscriptions": ["tasks"]}
        response = http.post("/api/realtime", json=body, headers=headers)
        assert response.status_code == 401, response.text
        response = http.get("/api/records/v1/tasks/subscribe/*", headers=headers)
        assert response.status_code == 401, response.text


def _bad_tokens(instance: Instance, user: User, *, expires_in: float = -1) -> tuple[str, str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    claims = jwt.decode(user.token, options={"verify_signature": False})
    db = database(instance.db_url)
    try:
        key = load_signing_key(db)
    finally:
        db.engine.dispose()
    now = utcnow()
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA")
    short = dict(claims, exp=now + timedelta(seconds=expires_in))
    return forged, jwt.encode(short, key, algorithm="EdDSA")


def test_an_expired_token_ends_the_stream(
    http: httpx.Client, instance: Instance, tasks: str
) -> None:
    alice = instance.alice
    _forged, short = _bad_tokens(instance, alice, expires_in=1.5)
    short_user = User(alice.id, alice.email, short)
    with sse(http, "/api/realtime") as reader:
        client_id = _connect(reader)
        assert _subscribe(http, short_user, client_id, ["tasks"]).status_code == 204
        started = time.monotonic()
        assert reader.next(5) == {"type": "expired", "detail": "the access token expired"}
        assert reader.next(5) is None
        assert time.monotonic() - started < 3
    _forged, short = _bad_tokens(instance, alice, expires_in=1.0)
    headers = {"Authorization": f"Bearer {short}"}
    with sse(http, "/api/records/v1/tasks/subscribe/*", headers) as reader:
        assert reader.next(5) == {
            "Error": {"status": 1, "message": "the access token expired"},
            "seq": 1,
        }
        assert reader.next(5) is None


def test_a_rolled_back_transaction_sends_nothing(
    http: httpx.Client, instance: Instance, tasks: str
) -> None:
    alice = instance.alice
    with sse(http, "/api/records/v1/tasks/subscribe/*", alice.headers) as reader:
        failed = http.post(
            "/api/transaction/v1/execute",
            json={
                "operations": [
                    {"Create": {"api_name": "tasks", "value": {"title": "never", "n": 1}}},
                    {
                        "Delete": {
                            "api_name": "tasks",
                            "record_id": "01900000-0000-7000-8000-000000000000",
                        }
                    },
                ],
                "transaction": True,
            },
            headers=alice.headers,
        )
        assert failed.status_code == 404, failed.text
        assert reader.nothing_within(0.5)
        ok = _add(http, alice, {"title": "after", "n": 1})
        assert reader.next()["Insert"]["id"] == ok["id"]


def test_a_slow_consumer_is_dropped(http: httpx.Client, instance: Instance, tasks: str) -> None:
    """The server's queue holds 8 frames (conftest): a client that reads nothing is told
    it fell behind, then disconnected; the server keeps no more than that for it."""
    alice = instance.alice
    with http.stream("GET", "/api/records/v1/tasks/subscribe/*", headers=alice.headers) as slow:
        assert slow.status_code == 200
        # Fill the socket buffers and the queue without reading.
        body = [
            {"Create": {"api_name": "tasks", "value": {"title": "x" * 4000, "n": i}}}
            for i in range(100)
        ]
        for _ in range(20):
            response = http.post(
                "/api/transaction/v1/execute", json={"operations": body}, headers=alice.headers
            )
            assert response.status_code == 200, response.text
        reader = SseReader(slow)
        frames = []
        while (frame := reader.next(10)) is not None:
            frames.append(frame)
    assert frames[-1]["Error"]["status"] == 2
    assert "too slow" in frames[-1]["Error"]["message"]
    assert len(frames) < 2000


def test_connections_per_user_are_limited(
    http: httpx.Client, instance: Instance, tasks: str
) -> None:
    """conftest allows 5 streams per user and process; a closed one frees its slot."""
    alice, path = instance.alice, "/api/records/v1/tasks/subscribe/*"
    streams = [http.stream("GET", path, headers=alice.headers) for _ in range(5)]
    opened = [stream.__enter__() for stream in streams]
    try:
        assert [response.status_code for response in opened] == [200] * 5
        refused = http.get(path, headers=alice.headers)
        assert (refused.status_code, refused.json()) == (
            429,
            {"detail": "too many realtime connections for this user"},
        )
    finally:
        for stream in streams:
            stream.__exit__(None, None, None)
    time.sleep(0.3)
    with sse(http, path, alice.headers) as reader:
        assert reader.next(skip_pings=False) == ": ping"
