"""The framing of the worker pipe, shared by the worker and the TinyBase server.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object with
a ``type``). The pipe is dedicated to frames: the worker's stdout and stderr never carry
them, so ``print()`` and ``logging`` in user code cannot break a call.

Server to worker: ``call`` (a call: id, token, payload, context, result limit) and
``response`` (the answer to one of the worker's API requests). Worker to server: ``hello``
(once, the function's metadata), ``request`` (an API request made with the client) and
``result`` (a call's outcome, with the output it printed).
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

__all__ = ["HEADER", "MAX_FRAME_BYTES", "ProtocolError", "decode", "encode", "read_frame"]

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024
"""A frame past this is refused as a protocol error (results have a lower limit)."""


class ProtocolError(Exception):
    """The other side sent something that is not a frame, or closed the pipe mid-frame."""


def encode(message: dict[str, Any]) -> bytes:
    """One frame of ``message``."""
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    data = body.encode("utf-8")
    return HEADER.pack(len(data)) + data


def body_length(header: bytes) -> int:
    """The body length a frame header announces.

    Raises:
        ProtocolError: past :data:`MAX_FRAME_BYTES`.
    """
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame of {length} bytes is past the limit")
    return length


def decode(body: bytes) -> dict[str, Any]:
    """The message of a frame body.

    Raises:
        ProtocolError: not a JSON object with a ``type``.
    """
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"a frame is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a frame is not a typed JSON object")
    return message


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message from a blocking ``stream``; None when it is closed between frames.

    Raises:
        ProtocolError: closed mid-frame, or a bad frame.
    """
    header = stream.read(HEADER.size)
    if not header:
        return None
    if len(header) < HEADER.size:
        raise ProtocolError("the pipe closed mid-frame")
    length = body_length(header)
    body = stream.read(length)
    if len(body) < length:
        raise ProtocolError("the pipe closed mid-frame")
    return decode(body)
