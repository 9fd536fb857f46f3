"""Call records: one ``_function_call`` row per call, written through the instance's writer.

A call that ends within :data:`RUNNING_RECORD_AFTER` seconds costs one write: its row,
written with its outcome once it ended. A longer call gets its ``running`` row written when
that time has passed (while the function runs; the call never waits for it), and the outcome
as an update at the end. Measured on W7 (bench/), writing the ``running`` row of every call
at its start was a third of a small call's cost on SQLite (two writer jobs per call instead
of one); a row nobody could have seen as ``running`` for more than a moment is not worth it.
Finished rows are batched: while one batch is being written, the rows of the calls ending
meanwhile wait for the next, written as one ``executemany`` in one writer job (under load, one
job for dozens of calls instead of one each). Each call still waits until its row is
committed, so an admin reading the records right after a response sees the call.

Admins list them newest first, with a keyset cursor (the last row's id: ids are UUIDv7,
time-ordered, like every TinyBase id).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import FunctionCall
from tinybase.errors import BadRequestError, NotFoundError

__all__ = ["RUNNING_RECORD_AFTER", "STATUSES", "CallFilter", "CallPage", "CallRecords", "OpenCall"]

RUNNING_RECORD_AFTER = 0.2
"""Seconds after which a call still running gets its ``running`` row."""

STATUSES = ("running", "succeeded", "failed")
TRIGGERS = ("manual", "schedule")
_TABLE: sa.Table = FunctionCall.__table__  # type: ignore[attr-defined]
_PUBLIC = [c for c in _TABLE.columns if c.key not in ("error_traceback", "output")]


@dataclass(frozen=True)
class CallFilter:
    """Which calls an admin lists; None means any."""

    function_name: str | None = None
    status: str | None = None
    trigger_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise BadRequestError(f"status must be one of {', '.join(STATUSES)}")
        if self.trigger_type is not None and self.trigger_type not in TRIGGERS:
            raise BadRequestError(f"trigger must be one of {', '.join(TRIGGERS)}")

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        c = _TABLE.c
        found: list[sa.ColumnElement[bool]] = []
        if self.function_name is not None:
            found.append(c.function_name == self.function_name)
        if self.status is not None:
            found.append(c.status == self.status)
        if self.trigger_type is not None:
            found.append(c.trigger_type == self.trigger_type)
        if self.since is not None:
            found.append(c.created_at >= self.since)
        if self.until is not None:
            found.append(c.created_at < self.until)
        return found


@dataclass(frozen=True)
class CallPage:
    """One page of calls and the cursor of the next (None: this is the last)."""

    calls: list[dict[str, Any]]
    next_cursor: str | None


class CallRecords:
    """The ``_function_call`` rows of one instance.

    Args:
        db: the instance's database.
        write: submits a write job to the instance's writer (``DatabaseExecutor.write``).
    """

    def __init__(self, db: Database, write: Callable[[Callable[[], Any]], Awaitable[Any]]) -> None:
        self._db = db
        self._write = write
        self._batch: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flushing = False
        self._flusher: asyncio.Future[None] | None = None
        self._insert = _TABLE.insert()
        self._update = (
            _TABLE.update()
            .where(_TABLE.c.id == sa.bindparam("call_id"))
            .values(
                status=sa.bindparam("status"),
                duration_ms=sa.bindparam("duration_ms"),
                error_message=sa.bindparam("error_message"),
                error_type=sa.bindparam("error_type"),
                error_traceback=sa.bindparam("error_traceback"),
                output=sa.bindparam("output"),
            )
        )

    def open(self, row: dict[str, Any], *, running_after: float = RUNNING_RECORD_AFTER) -> OpenCall:
        """A call that starts now: ``row`` holds ``id, function_name, user_id,
        trigger_type, trigger_id, created_at``; its ``running`` row is written if it is
        still running after ``running_after`` seconds (see the module docstring)."""
        return OpenCall(self, row, running_after)

    async def started(self, row: dict[str, Any]) -> None:
        """Write the ``running`` row of a call."""
        values = {"status": "running", "duration_ms": 0, **row}
        await self._write(lambda: self._execute(self._insert, values))

    async def finished(self, row: dict[str, Any], outcome: dict[str, Any]) -> None:
        """Write the row of a call that has ended (it has no ``running`` row), in the next
        batch; return once it is committed."""
        done = asyncio.get_running_loop().create_future()
        self._batch.append(({**row, **outcome}, done))
        if not self._flushing:
            self._flushing = True
            self._flusher = asyncio.ensure_future(self._flush())
        await done

    async def _flush(self) -> None:
        """Write batches until no row waits (one task at a time, on the event loop)."""
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                rows = [row for row, _ in batch]
                try:
                    await self._write(lambda rows=rows: self._execute(self._insert, rows))
                except Exception as exc:  # every waiting call learns it (a 500 each)
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
        finally:
            self._flushing = False

    async def ended(self, call_id: uuid.UUID, outcome: dict[str, Any]) -> None:
        """Write the outcome of a call that has its ``running`` row."""
        values = {"call_id": call_id, **outcome}
        await self._write(lambda: self._execute(self._update, values))

    def _execute(
        self, statement: sa.Executable, values: dict[str, Any] | list[dict[str, Any]]
    ) -> None:
        with self._db.write() as connection:
            connection.execute(statement, values)

    def list(self, where: CallFilter, *, limit: int = 100, cursor: str | None = None) -> CallPage:
        """One page of calls, newest first (a blocking read).

        Raises:
            BadRequestError: the cursor is not a call id.
        """
        query = sa.select(*_PUBLIC).where(*where.conditions())
        if cursor is not None:
            query = query.where(_TABLE.c.id < _call_id(cursor, BadRequestError("bad cursor")))
        query = query.order_by(_TABLE.c.id.desc()).limit(limit + 1)
        with self._db.read() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        return CallPage(rows, str(rows[-1]["id"]) if more else None)

    def get(self, call_id: str) -> dict[str, Any]:
        """One call, with its traceback and printed output (a blocking read).

        Raises:
            NotFoundError: no call has that id.
        """
        missing = NotFoundError("Function call not found")
        query = sa.select(_TABLE).where(_TABLE.c.id == _call_id(call_id, missing))
        with self._db.read() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            raise missing
        return dict(row)


def _settle(
    batch: list[tuple[dict[str, Any], asyncio.Future[None]]], error: Exception | None
) -> None:
    for _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


class OpenCall:
    """The record of a call under way (:meth:`CallRecords.open`); :meth:`end` it once."""

    def __init__(self, records: CallRecords, row: dict[str, Any], running_after: float) -> None:
        self._records = records
        self._row = row
        self._running: asyncio.Future[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(running_after, self._write_running)

    def _write_running(self) -> None:
        self._running = asyncio.ensure_future(self._records.started(self._row))

    async def end(
        self,
        *,
        status: str,
        duration_ms: int,
        error_message: str | None = None,
        error_type: str | None = None,
        error_traceback: str | None = None,
        output: str | None = None,
    ) -> None:
        """Write the call's outcome (after its ``running`` row, if that was written);
        ``output`` is what an isolated function printed."""
        self._timer.cancel()
        outcome = {
            "status": status,
            "duration_ms": duration_ms,
            "error_message": error_message,
            "error_type": error_type,
            "error_traceback": error_traceback,
            "output": output,
        }
        if self._running is None:
            await self._records.finished(self._row, outcome)
        else:
            await self._running
            await self._records.ended(self._row["id"], outcome)


def _call_id(text: str, error: Exception) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise error from None
