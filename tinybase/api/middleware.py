"""Pure ASGI middleware."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from contextvars import ContextVar

from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tinybase.api.responses import JSONResponse
from tinybase.errors import PayloadTooLargeError

__all__ = [
    "BodySizeLimitMiddleware",
    "CORSMiddleware",
    "RequestIdLogFilter",
    "RequestIdMiddleware",
    "request_id",
]

request_id: ContextVar[str] = ContextVar("request_id", default="-")
"""The current request's id, for log records (see ``RequestIdLogFilter``)."""

_HEADER = b"x-request-id"


class RequestIdMiddleware:
    """Gives every HTTP request an id (the client's ``X-Request-ID`` if sane, else a new one),
    exposes it to logging, and returns it in the ``X-Request-ID`` response header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(_HEADER, b"").decode("latin-1")
        value = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else _new_id()
        token = request_id.set(value)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (_HEADER, value.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_id)
        # No `finally`: after an unhandled error the server-error handler, which runs outside
        # every middleware, still logs and answers with this id. Each request runs in its own
        # task (its own copy of the context), so the value goes no further.
        request_id.reset(token)


def _new_id() -> str:
    """32 random hex digits, from the process's PRNG (reseeded after fork).

    Not ``uuid4()``: it reads ``os.urandom``, a system call that releases the GIL, so on
    every request the event loop handed the GIL to a worker thread and waited up to a
    switch interval to get it back. A request id needs uniqueness, not secrecy.
    """
    return f"{random.getrandbits(128):032x}"


class CORSMiddleware(StarletteCORSMiddleware):
    """Starlette's CORS middleware, with a short path for requests without ``Origin``.

    Such a request is not a cross-origin browser request: Starlette would only add
    ``Vary: Origin`` to its response (so caches keep it apart from cross-origin answers),
    after parsing the request and response headers into objects. Here the header is added
    directly; requests with an ``Origin`` get Starlette's full handling.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(key == b"origin" for key, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                vary = [value for key, value in headers if key.lower() == b"vary"]
                message["headers"] = [
                    *(item for item in headers if item[0].lower() != b"vary"),
                    (b"vary", b", ".join([*vary, b"Origin"])),
                ]
            await send(message)

        await self.app(scope, receive, send_with_vary)


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record so formats can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class BodySizeLimitMiddleware:
    """Answers 413 to a request whose body is larger than its limit, before the app reads it.

    The limit is ``max_body_size``, or that of the longest matching prefix in ``limits``
    (a route family with bodies of another size, such as file uploads, gets its own entry).

    - A declared ``Content-Length`` past the limit is answered at once: nothing of the body
      is read, no route runs (the 413 comes before any token check).
    - Any other body (declared within the limit, or chunked) is read here, at most one
      chunk past the limit, joined into one buffer and replayed to the app as one message;
      past the limit the rest is never read. A body that comes in one message (nearly all)
      is handed on as it came.
    - ``GET``/``HEAD`` without ``Content-Length`` or ``Transfer-Encoding`` have no body in
      HTTP/1.1: passed through (the record reads' hot path pays one header scan).

    A ``POST``/``PATCH`` for which ``upload_limit(path, multipart)`` gives a number (a
    record write that may carry files) has the larger of ``max_body_size`` and that number
    as its limit. A ``multipart/form-data`` body of such a request is not buffered but
    counted as the app reads it (Starlette spools file parts to disk): past the limit,
    reading stops and the answer is a 413, so a large file never sits in memory and an
    oversized one is not read to its end.

    Joined, not kept as the messages the server delivered: a client that trickles its body
    a byte per packet gets a message per byte, each a dict and a bytes object some 200
    bytes large, so a 1 MiB body kept as messages cost about 200 MiB (and Starlette's
    ``Request.body()``, which keeps the chunks until it joins them, about 50 MiB).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_size: int,
        limits: Mapping[str, int] | None = None,
        upload_limit: Callable[[str, bool], int | None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.limits = sorted((limits or {}).items(), key=lambda item: -len(item[0]))
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One dict of the headers (C code) rather than a loop over them: this runs on every
        # request. A repeated header keeps its last value, as the loop did.
        headers = dict(scope["headers"])
        chunked = b"transfer-encoding" in headers  # overrides Content-Length in HTTP/1.1
        length = headers.get(b"content-length")
        declared = None if length is None else _content_length(length)
        limit = self._limit_for(scope["path"]) if self.limits else self.max_body_size
        multipart = headers.get(b"content-type", b"")[:19].lower() == b"multipart/form-data"
        uploads = self._upload_limit(scope, multipart)
        if uploads is not None:
            limit = max(limit, uploads)
        if declared is not None and not chunked and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if not chunked and (declared == 0 or (declared is None and scope["method"] in _BODILESS)):
            await self.app(scope, receive, send)
            return
        if uploads is not None and multipart:
            await self._counted(scope, receive, send, limit)
            return
        first = await receive()
        if first["type"] == "http.request" and not first.get("more_body", False):
            # The common case: the whole body in one message, handed on as it came.
            if len(first.get("body", b"")) > limit:
                await _too_large(limit)(scope, receive, send)
                return
            await self.app(scope, _replay_one(first, receive), send)
            return
        messages = await _read_at_most(first, receive, limit)
        if messages is None:
            await _too_large(limit)(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    def _upload_limit(self, scope: Scope, multipart: bool) -> int | None:
        if self.upload_limit is None or scope["method"] not in ("POST", "PATCH"):
            return None
        return self.upload_limit(scope["path"], multipart)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app on a ``receive`` that counts the body and stops past ``limit``."""
        received = 0
        started = False

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge()
            return message

        async def watching(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, watching)
        except _BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.max_body_size


def _content_length(value: bytes) -> int | None:
    if not value.isdigit():  # bytes: ASCII digits only
        return None
    # 19 digits and more are past any limit; int() would refuse past 4300 digits (a 500).
    return int(value) if len(value) < 19 else 10**18


_BODILESS = ("GET", "HEAD")


class _BodyTooLarge(Exception):
    """Raised into the app's body read when a counted body passes its limit."""


async def _read_at_most(first: Message, receive: Receive, limit: int) -> list[Message] | None:
    """The request's body, of which ``first`` is the first message, as one message (then a
    disconnect, if the client went away), or None as soon as it is more than ``limit``
    bytes."""
    if first["type"] != "http.request":
        return [first]
    if len(first.get("body", b"")) > limit:
        return None
    body = bytearray(first.get("body", b""))
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away: the app gets what came, then the disconnect.
            return [_body_message(body, more=True), message]
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return [_body_message(body, more=False)]


def _body_message(body: bytearray, *, more: bool) -> Message:
    return {"type": "http.request", "body": bytes(body), "more_body": more}


def _replay_one(message: Message, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``message`` first, then what the server sends."""
    pending: Message | None = message

    async def replayed() -> Message:
        nonlocal pending
        if pending is None:
            return await receive()
        given, pending = pending, None
        return given

    return replayed


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` first, then what the server sends."""
    pending = iter(messages)

    async def replayed() -> Message:
        return next(pending, None) or await receive()

    return replayed


def _too_large(limit: int) -> JSONResponse:
    error = PayloadTooLargeError(f"the request body is larger than {limit} bytes")
    # The rest of the body is never read: the connection cannot carry another request.
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers={"Connection": "close"}
    )
