"""Serving a realtime stream: as an SSE response, or over an accepted WebSocket.

Both end the stream in the service when the connection ends, whichever side ends it: the
SSE response watches for the client's disconnect (not only a failed send, so an idle
stream's slot is freed at once) and the WebSocket reads until the client closes.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from tinybase.realtime import RealtimeService
from tinybase.realtime.streams import Stream

__all__ = ["EventStreamResponse", "serve_websocket"]

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` of a stream's frames; the stream is closed when it ends."""

    def __init__(self, service: RealtimeService, stream: Stream) -> None:
        frames = stream.frames(service.limits.heartbeat_seconds)
        super().__init__(frames, media_type="text/event-stream", headers=SSE_HEADERS)
        self.service, self.stream = service, stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tasks:

                async def respond() -> None:
                    await self.stream_response(send)
                    tasks.cancel_scope.cancel()

                tasks.start_soon(respond)
                await self.listen_for_disconnect(receive)
                tasks.cancel_scope.cancel()
        except OSError:
            pass  # the client went while a frame was being sent
        finally:
            self.service.close(self.stream)


async def serve_websocket(service: RealtimeService, stream: Stream, websocket: WebSocket) -> None:
    """Send the stream's frames as text messages until either side ends; then close."""
    try:
        async with anyio.create_task_group() as tasks:

            async def pump() -> None:
                async for frame in stream.frames(service.limits.heartbeat_seconds):
                    await websocket.send_text(_text(frame))
                await websocket.close()
                tasks.cancel_scope.cancel()

            tasks.start_soon(pump)
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # the client has nothing more to say (a late Init is ignored)
            tasks.cancel_scope.cancel()
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # gone meanwhile (RuntimeError: a send after the close)
    finally:
        service.close(stream)


def _text(frame: Any) -> str:
    return frame if isinstance(frame, str) else frame.decode()
