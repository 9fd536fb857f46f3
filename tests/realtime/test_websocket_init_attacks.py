"""A WebSocket whose first message is not TrailBase's text Init is refused as unauthorized
(1008), not an unhandled error: a binary frame was a ``KeyError`` (close 1011 and a
traceback in the log)."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.realtime.conftest import Instance

PATH = "/api/records/v1/public_notes/subscribe/*?ws=true"


@pytest.mark.parametrize(
    "first",
    [
        json.dumps({"Init": {"auth_token": None}}).encode(),  # the Init, as a binary frame
        b"\xff\x00",
        "not json",
        json.dumps({"Init": {"auth_token": 5}}),
    ],
    ids=["binary-init", "binary", "text", "token-not-a-string"],
)
def test_a_first_message_that_is_not_a_text_init_closes_with_1008(
    instance: Instance, first: bytes | str
) -> None:
    url = instance.base.replace("http://", "ws://") + PATH
    with connect(url, open_timeout=5) as socket:
        socket.send(first)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "unauthorized")
