"""How each family's clients receive events: bytes on an SSE stream, text on a WebSocket.

Record bodies arrive already encoded (once per event, shared by every subscriber), so a
frame is a few concatenations.

- TrailBase SSE (what the npm ``trailbase`` client parses): ``: ping`` first (it takes
  ``seq`` 0), then one ``data: {"Insert":{...},"seq":1}`` line per event, blank lines LF
  only, no ``id:``/``event:`` lines; errors ``{"Error":{"status":1,"message":...}}``
  (0 unknown, 1 forbidden, 2 loss).
- TrailBase WebSocket: the same JSON without ``seq``, one text message each.
- TinyBase SSE (:doc:`docs/realtime.md`): ``data: {"type": ..., ...}`` lines, first
  ``{"type":"connect","client_id":...}``.
"""

from __future__ import annotations

from typing import Literal, Protocol

import orjson

from tinybase.realtime.events import Operation

__all__ = [
    "ERROR_FORBIDDEN",
    "ERROR_LOSS",
    "ERROR_UNKNOWN",
    "Ending",
    "Framing",
    "TinyBaseSse",
    "TrailBaseSse",
    "TrailBaseWebSocket",
]

ERROR_UNKNOWN, ERROR_FORBIDDEN, ERROR_LOSS = 0, 1, 2
HEARTBEAT = b": ping\n\n"
Ending = Literal["expired", "dropped"]
"""Why the server ends a stream: the token expired; the client fell too far behind."""
_TRAILBASE_KINDS = {"create": b"Insert", "update": b"Update", "delete": b"Delete"}


class Framing(Protocol):
    """Turns what a stream must say into frames of its transport."""

    def opening(self) -> bytes | str | None:
        """The first frame (sent before any event), or None."""
        ...

    def heartbeat(self) -> bytes | str | None:
        """A keep-alive frame, or None where the transport has its own."""
        ...

    def record(self, topic: str, operation: Operation, body: bytes) -> bytes | str:
        """An event: ``body`` is the record, encoded JSON."""
        ...

    def error(self, topic: str, status: int, message: str) -> bytes | str:
        """An error about one topic (a record subscription that ends)."""
        ...

    def ending(self, reason: Ending, message: str) -> bytes | str:
        """The last frame of a stream the server ends."""
        ...


class TrailBaseSse:
    """TrailBase's SSE frames, with the per-connection ``seq``."""

    def __init__(self) -> None:
        self._seq = 0

    def opening(self) -> bytes:
        return HEARTBEAT  # seq 0, as TrailBase's first ping

    def heartbeat(self) -> bytes:
        return HEARTBEAT

    def record(self, topic: str, operation: Operation, body: bytes) -> bytes:
        self._seq += 1
        kind = _TRAILBASE_KINDS[operation]
        return b'data: {"%s":%s,"seq":%d}\n\n' % (kind, body, self._seq)

    def error(self, topic: str, status: int, message: str) -> bytes:
        self._seq += 1
        error = orjson.dumps({"Error": {"status": status, "message": message}, "seq": self._seq})
        return b"data: " + error + b"\n\n"

    def ending(self, reason: Ending, message: str) -> bytes:
        return self.error("", _ENDING_STATUS[reason], message)


class TrailBaseWebSocket:
    """TrailBase's WebSocket messages: the event JSON without ``seq``."""

    def opening(self) -> None:
        return None

    def heartbeat(self) -> None:
        return None  # the WebSocket's own pings keep it open (uvicorn's ws_ping_interval)

    def record(self, topic: str, operation: Operation, body: bytes) -> str:
        return f'{{"{_TRAILBASE_KINDS[operation].decode()}":{body.decode()}}}'

    def error(self, topic: str, status: int, message: str) -> str:
        return orjson.dumps({"Error": {"status": status, "message": message}}).decode()

    def ending(self, reason: Ending, message: str) -> str:
        return self.error("", _ENDING_STATUS[reason], message)


class TinyBaseSse:
    """TinyBase's SSE frames: one stream per client, many topics on it."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def opening(self) -> bytes:
        return _data({"type": "connect", "client_id": self.client_id})

    def heartbeat(self) -> bytes:
        return HEARTBEAT

    def record(self, topic: str, operation: Operation, body: bytes) -> bytes:
        head = orjson.dumps({"type": "record", "topic": topic, "action": operation})
        return b"data: " + head[:-1] + b',"record":' + body + b"}\n\n"

    def error(self, topic: str, status: int, message: str) -> bytes:
        return _data({"type": "error", "topic": topic, "status": status, "detail": message})

    def ending(self, reason: Ending, message: str) -> bytes:
        return _data({"type": reason, "detail": message})


# TrailBase's clients know only error statuses: an expired token is a refusal, a consumer
# too slow to keep up has lost events.
_ENDING_STATUS: dict[str, int] = {"expired": ERROR_FORBIDDEN, "dropped": ERROR_LOSS}


def _data(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
