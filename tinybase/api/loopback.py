"""The API loopback: isolated functions' ``client`` requests, answered by this very app.

A worker's request arrives over its pipe as a ``request`` message; it is run through the
whole ASGI app (middleware, authentication with the call's token, routes) in this process,
and the answer goes back as a ``response`` message. No socket is involved, so the call's
token never needs to be known by another process, and nothing listens for workers.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message

__all__ = ["api_loopback"]

_SERVER = ("tinybase.internal", 80)
_CLIENT = ("127.0.0.1", 0)


def api_loopback(app: ASGIApp) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    """A dispatcher of worker ``request`` messages through ``app``."""

    async def dispatch(request: dict[str, Any]) -> dict[str, Any]:
        path, _, query = request["path"].partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request["method"],
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in request["headers"]
            ],
            "client": _CLIENT,
            "server": _SERVER,
        }
        body = base64.b64decode(request["body"])
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status, headers, chunks = 500, [], []

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in message["headers"]
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return {
            "type": "response",
            "id": request["id"],
            "status": status,
            "headers": headers,
            "body": base64.b64encode(b"".join(chunks)).decode("ascii"),
        }

    return dispatch


def _text_headers(raw: list[tuple[bytes, bytes]]) -> list[list[str]]:
    return [[key.decode("latin-1"), value.decode("latin-1")] for key, value in raw]
