"""A client's connection (a :class:`Stream`) and what it listens to (its subscriptions).

A stream lives on the event loop: the service offers it frames, the connection's handler
takes them with :meth:`Stream.next`. Its queue is bounded: a client that reads too slowly
for ``capacity`` frames is told so (the ``dropped`` ending) and disconnected, so the server
never holds more than ``capacity`` frames for anyone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from tinybase.auth.principal import Principal
from tinybase.realtime.framing import Ending, Framing
from tinybase.realtime.matching import RowFilter

__all__ = ["END", "Stream", "Subscription"]

END = object()
"""What :meth:`Stream.next` returns once the stream is over."""
MAX_CHUNK = 8192  # bytes of SSE frames sent in one write, at most (past one frame)
_WAKE = object()  # makes a waiting :meth:`Stream.next` look at the expiry again


@dataclass(eq=False)
class Subscription:
    """One topic of a stream: an API's records, or one record (``record_id`` set).

    Attributes:
        api: the record API's name.
        table: the table it exposes (events are routed by table).
        topic: the name the client knows it by (``posts``, ``posts/ID``).
        record_id: the one record's id as text, or None for every record.
        matches: the client's filter, None for none.
        shape: ``"row"`` (the read API's row) or ``"record"`` (the collections family's).
        stream: the stream it belongs to.
    """

    api: str
    table: str
    topic: str
    record_id: str | None
    matches: RowFilter | None
    shape: str
    stream: Stream = field(repr=False)

    @property
    def principal(self) -> Principal:
        return self.stream.principal


class Stream:
    """One connection: its caller, token expiry, framing, bounded queue of frames.

    Args:
        principal: the caller (may change: TinyBase clients set it with each subscribe).
        expires_at: when the caller's token expires (epoch seconds), None without a token.
        framing: the transport's frames.
        capacity: at most this many frames wait for the client.
    """

    def __init__(
        self,
        principal: Principal,
        expires_at: float | None,
        framing: Framing,
        *,
        capacity: int,
    ) -> None:
        self.principal = principal
        self.expires_at = expires_at
        self.framing = framing
        self.capacity = capacity
        self.subscriptions: list[Subscription] = []
        self.client_id: str | None = None
        # Set by the API layer: True once the caller's session is revoked (a logout, a
        # password change); checked at every heartbeat.
        self.revoked: Callable[[], bool] | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.ended = False

    def offer(self, frame: bytes | str) -> None:
        """Queue a frame; a full queue ends the stream (``dropped``) instead."""
        if self.ended:
            return
        if self._queue.qsize() >= self.capacity:
            self.end("dropped", f"more than {self.capacity} events waiting: the client is too slow")
            return
        self._queue.put_nowait(frame)

    def end(self, reason: Ending | None, message: str = "") -> None:
        """End the stream after one last frame (none for ``reason`` None); pending frames
        are dropped."""
        if self.ended:
            return
        self.ended = True
        while not self._queue.empty():
            self._queue.get_nowait()
        if reason is not None:
            self._queue.put_nowait(self.framing.ending(reason, message))
        self._queue.put_nowait(END)

    def renew(self, principal: Principal, expires_at: float | None) -> None:
        """A new caller or token expiry (a TinyBase client's subscribe)."""
        self.principal, self.expires_at = principal, expires_at
        if not self.ended:
            self._queue.put_nowait(_WAKE)

    def finish(self) -> None:
        """End the stream once the frames already queued are sent."""
        if not self.ended:
            self.ended = True
            self._queue.put_nowait(END)

    def end_topic(self, subscription: Subscription, status: int, message: str) -> None:
        """Tell the client a topic ended (its record stopped being readable)."""
        self.offer(self.framing.error(subscription.topic, status, message))

    async def next(self, heartbeat_seconds: float) -> Any:
        """The next frame, a heartbeat frame after ``heartbeat_seconds`` of silence, the
        ``expired`` ending when the token expires or (seen at a heartbeat) the session was
        revoked, or :data:`END`."""
        while True:
            if not self._queue.empty():
                frame = self._queue.get_nowait()
            else:
                timeout = heartbeat_seconds
                if self.expires_at is not None and not self.ended:
                    remaining = self.expires_at - time.time()
                    if remaining <= 0:
                        self.end("expired", "the access token expired")
                        continue
                    timeout = min(timeout, remaining)
                try:
                    async with asyncio.timeout(timeout):  # no task per wait, as wait_for makes
                        frame = await self._queue.get()
                except TimeoutError:
                    if self.expires_at is not None and time.time() >= self.expires_at:
                        continue  # expired, not revoked: said at the top of the loop
                    if self.revoked is not None and self.revoked():
                        self.end("expired", "the session was revoked")
                        continue
                    beat = self.framing.heartbeat()
                    if timeout == heartbeat_seconds and beat is not None:
                        return beat
                    continue
            if frame is not _WAKE:
                return frame

    async def frames(self, heartbeat_seconds: float) -> AsyncIterator[bytes | str]:
        """Every frame until the stream ends: the opening frame first."""
        opening = self.framing.opening()
        if opening is not None:
            yield opening
        while (frame := await self.next(heartbeat_seconds)) is not END:
            if not isinstance(frame, bytes):
                yield frame
                continue
            # SSE: the frames already waiting go out in one write (a burst of events to
            # many streams costs a send per stream, not per event).
            # Bounded: the npm client breaks on an event split across two reads, and a
            # write much larger than a read is more likely to be split.
            chunk, size = [frame], len(frame)
            while size < MAX_CHUNK and not self._queue.empty():
                waiting = self._queue.get_nowait()
                if waiting is END:
                    yield b"".join(chunk)
                    return
                if waiting is not _WAKE:
                    chunk.append(waiting)
                    size += len(waiting)
            yield b"".join(chunk)
