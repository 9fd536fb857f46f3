"""Events between processes through a small table of the database itself: no extra server.

Every process appends its events to ``_realtime_event`` (one INSERT per batch, from a
worker thread, after the writes committed) and reads the others' by ``seq`` every
``poll_seconds`` (an indexed range read of an almost empty table). On SQLite writes are
serialized, so ``seq`` grows in commit order and a reader never skips an event that commits
later. Rows older than ``RETENTION_SECONDS`` are deleted as batches go in. A process that
was away misses what it did not read (as PostgreSQL's NOTIFY would): events are not durable.

This is the SQLite relay (``tinybase serve --workers N``); :mod:`.postgres` uses the same
table for the events too large for a NOTIFY.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import RealtimeEvent
from tinybase.realtime.events import Event, decode_event, encode_event

__all__ = ["EVENTS", "RETENTION_SECONDS", "TableRelay", "drain"]

logger = logging.getLogger(__name__)

RETENTION_SECONDS = 60.0
_BATCH = 1000

EVENTS: sa.Table = RealtimeEvent.__table__  # type: ignore[attr-defined]


def drain(outbox: queue.SimpleQueue[bytes]) -> list[bytes]:
    """Everything waiting in ``outbox``, without blocking."""
    items: list[bytes] = []
    while True:
        try:
            items.append(outbox.get_nowait())
        except queue.Empty:
            return items


class TableRelay:
    """The events of several processes on one database, through ``_realtime_event``.

    Args:
        db: the database.
        poll_seconds: how often new events are written and read.
    """

    def __init__(self, db: Database, *, poll_seconds: float) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._outbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._last = 0
        self._pruned_at = 0.0

    def publish(self, event: Event) -> None:
        self._outbox.put(encode_event(event))

    async def run(self, deliver: Callable[[list[Event]], None]) -> None:
        self._last = await anyio.to_thread.run_sync(self._latest)
        while True:
            await anyio.sleep(self.poll_seconds)
            try:
                events = await anyio.to_thread.run_sync(self._exchange)
            except sa.exc.SQLAlchemyError:
                logger.warning("realtime: the events table could not be read; retrying")
                continue
            if events:
                deliver(events)

    def _latest(self) -> int:
        with self.db.read() as connection:
            return connection.execute(sa.select(sa.func.max(EVENTS.c.seq))).scalar() or 0

    def _exchange(self) -> list[Event]:
        """Write this process's waiting events, read everyone's new ones (a worker thread)."""
        self._write(drain(self._outbox))
        query = (
            sa.select(EVENTS.c.seq, EVENTS.c.payload)
            .where(EVENTS.c.seq > self._last)
            .order_by(EVENTS.c.seq)
            .limit(_BATCH)
        )
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        if rows:
            self._last = rows[-1][0]
        return [decode_event(payload) for _seq, payload in rows]

    def _write(self, payloads: list[bytes]) -> None:
        if not payloads:
            return
        now = time.time()
        rows = [{"payload": payload.decode(), "created_at": now} for payload in payloads]
        with self.db.write() as connection:
            connection.execute(EVENTS.insert(), rows)
            if now - self._pruned_at > RETENTION_SECONDS / 4:
                self._pruned_at = now
                connection.execute(
                    EVENTS.delete().where(EVENTS.c.created_at < now - RETENTION_SECONDS)
                )
