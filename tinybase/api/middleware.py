"""Pure ASGI middleware."""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIdLogFilter", "RequestIdMiddleware", "request_id"]

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
        value = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
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


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record so formats can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True
