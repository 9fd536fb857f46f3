"""Pure ASGI middleware."""

from __future__ import annotations

import logging
import random
from contextvars import ContextVar

from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CORSMiddleware", "RequestIdLogFilter", "RequestIdMiddleware", "request_id"]

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
