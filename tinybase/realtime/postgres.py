"""Events between processes on PostgreSQL: ``NOTIFY`` after the commit, ``LISTEN`` in each.

Each process publishes its events on the channel ``tinybase_realtime`` (``pg_notify`` in one
transaction per batch, from a worker thread). PostgreSQL delivers notifications only once
their transaction commits, in commit order. A payload must stay under 8000 bytes: an event
larger than :data:`MAX_PAYLOAD` goes into the ``_realtime_event`` table and the notification
carries its reference (``#<seq>``), which listeners read back.

Each process keeps one dedicated autocommit connection (psycopg) for ``LISTEN``.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import psycopg
import sqlalchemy as sa

from tinybase.data import Database
from tinybase.realtime.events import Event, decode_event, encode_event
from tinybase.realtime.relay import EVENTS, RETENTION_SECONDS, drain

__all__ = ["CHANNEL", "MAX_PAYLOAD", "PostgresRelay"]

logger = logging.getLogger(__name__)

CHANNEL = "tinybase_realtime"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses 8000 and more
_NOTIFY = sa.text("SELECT pg_notify(:channel, :payload)")
_RECONNECT_SECONDS = 1.0
_CONNECT_TIMEOUT_SECONDS = 10


class PostgresRelay:
    """The events of every process on one PostgreSQL database.

    Args:
        db: the database (its URL gives the listening connection's).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._outbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pruned_at = 0.0

    def publish(self, event: Event) -> None:
        self._outbox.put(encode_event(event))

    async def run(self, deliver: Callable[[list[Event]], None]) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._send_loop)
            while True:
                try:
                    await self._listen(deliver)
                except psycopg.Error:
                    logger.warning("realtime: the LISTEN connection failed; reconnecting")
                    await anyio.sleep(_RECONNECT_SECONDS)

    async def _listen(self, deliver: Callable[[list[Event]], None]) -> None:
        # Shielded: a shutdown that cancels a connect half-way would leave psycopg's
        # connection open; the connect is bounded and the cancellation lands right after.
        with anyio.CancelScope(shield=True):
            listener = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
            )
        async with listener:
            await listener.execute(f"LISTEN {CHANNEL}")
            async for notify in listener.notifies():
                payload = notify.payload
                if payload.startswith("#"):
                    found = await anyio.to_thread.run_sync(self._stored, int(payload[1:]))
                    if found is None:
                        continue
                    payload = found
                try:
                    deliver([decode_event(payload)])
                except ValueError:
                    logger.warning("realtime: a malformed notification was ignored")

    async def _send_loop(self) -> None:
        while True:
            await anyio.sleep(0.005)
            payloads = drain(self._outbox)
            if payloads:
                try:
                    await anyio.to_thread.run_sync(self._send, payloads)
                except sa.exc.SQLAlchemyError:
                    logger.warning("realtime: %d events could not be sent", len(payloads))

    def _send(self, payloads: list[bytes]) -> None:
        now = time.time()
        with self.db.write() as connection:
            for payload in payloads:
                text = payload.decode()
                if len(payload) > MAX_PAYLOAD:
                    insert = EVENTS.insert().values(payload=text, created_at=now)
                    seq = connection.execute(insert.returning(EVENTS.c.seq)).scalar_one()
                    text = f"#{seq}"
                connection.execute(_NOTIFY, {"channel": CHANNEL, "payload": text})
            if now - self._pruned_at > RETENTION_SECONDS / 4:
                self._pruned_at = now
                connection.execute(
                    EVENTS.delete().where(EVENTS.c.created_at < now - RETENTION_SECONDS)
                )

    def _stored(self, seq: int) -> str | None:
        with self.db.read() as connection:
            return connection.execute(
                sa.select(EVENTS.c.payload).where(EVENTS.c.seq == seq)
            ).scalar()
