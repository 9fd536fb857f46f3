"""TrailBase's WebSocket variant (``?ws=true``): Init first, events without ``seq``,
refusals as close codes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.realtime.conftest import Instance

V1 = "/api/records/v1"


@contextmanager
def _open(instance: Instance, path: str, token: str | None) -> Iterator[ClientConnection]:
    url = instance.base.replace("http://", "ws://") + f"{V1}{path}"
    with connect(url, open_timeout=5) as socket:
        socket.send(json.dumps({"Init": {"auth_token": token}}))
        yield socket


def _closed(socket: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_websocket_events_follow_the_rules(http: httpx.Client, instance: Instance) -> None:
    alice, bob = instance.alice, instance.bob
    with _open(instance, "/notes/subscribe/*?ws=true", alice.token) as socket:
        # The subscription exists once the server has read the Init message (TrailBase's
        # protocol has no answer to it): give it that moment.
        time.sleep(0.3)
        response = http.post(f"{V1}/notes", json={"title": "ws bob"}, headers=bob.headers)
        assert response.status_code == 200
        response = http.post(f"{V1}/notes", json={"title": "ws alice"}, headers=alice.headers)
        record = response.json()["ids"][0]
        message = json.loads(socket.recv(timeout=5))
        assert message == {
            "Insert": {
                "id": record,
                "owner": alice.id,
                "title": "ws alice",
                "score": None,
                "grp": None,
                "body": None,
            }
        }


@pytest.mark.parametrize(
    ("path", "token", "code"),
    [
        ("/notes/subscribe/*?ws=true", None, 1008),  # anonymous: denied
        ("/notes/subscribe/*?ws=true", "forged.token.here", 1008),
        ("/quiet/subscribe/*?ws=true", "alice", 1008),  # subscriptions disabled
        ("/nothing/subscribe/*?ws=true", "alice", 1008),
    ],
)
def test_websocket_refusals(instance: Instance, path: str, token: str | None, code: int) -> None:
    real = instance.alice.token if token == "alice" else token
    with _open(instance, path, real) as socket:
        assert _closed(socket)[0] == code


def test_websocket_first_message_must_be_init(instance: Instance) -> None:
    url = instance.base.replace("http://", "ws://") + f"{V1}/notes/subscribe/*?ws=true"
    with connect(url, open_timeout=5) as socket:
        socket.send("hello")
        assert _closed(socket) == (1008, "unauthorized")
