"""The ``client`` a function receives: httpx, reaching the TinyBase API as the caller.

In a TinyBase worker, its requests travel over the worker's pipe to the very server
process that runs the call, which answers them through its own API with the call's token:
they act as the caller (anonymous for an anonymous call), reach the process that knows
the token even when several share one port, and need no network address. The token works
for this call only and is refused once it has ended.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

__all__ = ["API_HOST", "CallContext", "Client", "PipeTransport"]

API_HOST = "tinybase.internal"
"""The host of the client's base URL: its requests never leave for the network."""


@dataclass(frozen=True)
class CallContext:
    """Who calls and why (``client.context``)."""

    function_name: str
    request_id: UUID
    user_id: UUID | None
    is_admin: bool
    trigger_type: str


class PipeTransport(httpx.BaseTransport):
    """Sends each request over the worker pipe and waits for its answer.

    Args:
        exchange: sends one ``request`` message and returns the ``response`` message.
    """

    def __init__(self, exchange: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._exchange = exchange
        self._ids = itertools.count(1)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != API_HOST:
            # The call's token must never reach another host.
            raise httpx.ConnectError(
                "the TinyBase client reaches the TinyBase API only", request=request
            )
        body = request.read()
        answer = self._exchange(
            {
                "type": "request",
                "id": next(self._ids),
                "method": request.method,
                "path": request.url.raw_path.decode("ascii"),
                "headers": [[key, value] for key, value in request.headers.items()],
                "body": base64.b64encode(body).decode("ascii"),
            }
        )
        return httpx.Response(
            answer["status"],
            headers=answer["headers"],
            content=base64.b64decode(answer["body"]),
            request=request,
        )


class Client(httpx.Client):
    """An ``httpx.Client`` on the TinyBase API: ``client.get("/api/...")``, ``post``,
    ``patch``, ``put``, ``delete`` (``json=...``) return ``httpx.Response`` objects.

    Attributes:
        context: the call being served (None outside a call).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        base_url: str = f"http://{API_HOST}",
        timeout: float = 60.0,
    ) -> None:
        super().__init__(
            base_url=base_url,
            transport=transport,
            trust_env=False,
            timeout=timeout,
        )
        self.context: CallContext | None = None

    def begin(self, token: str, context: CallContext) -> None:
        """Act as the caller of a new call."""
        self.headers["Authorization"] = f"Bearer {token}"
        self.context = context

    def end(self) -> None:
        """The call is over: forget its token."""
        self.headers.pop("Authorization", None)
        self.context = None
