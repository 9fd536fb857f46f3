"""Call records: one ``_function_call`` row per call, written through the instance's writer.

A call costs two writes: the ``running`` row, queued when the call starts and written while
the function runs (the call does not wait for it), and its outcome, written once the
function has ended. Both are small single-row statements that join the writer's group
commit on SQLite, so under load they share COMMITs with the rest of the writes.

Admins list them newest first, with a keyset cursor (the last row's id: ids are UUIDv7,
time-ordered, like every TinyBase id).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import FunctionCall
from tinybase.errors import BadRequestError, NotFoundError

__all__ = ["STATUSES", "CallFilter", "CallPage", "CallRecords"]

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

    async def started(self, row: dict[str, Any]) -> None:
        """Write the ``running`` row of a call (``id, function_name, user_id, trigger_type,
        trigger_id, created_at``)."""
        values = {"status": "running", "duration_ms": 0, **row}
        await self._write(lambda: self._execute(self._insert, values))

    async def ended(
        self,
        call_id: uuid.UUID,
        *,
        status: str,
        duration_ms: int,
        error_message: str | None = None,
        error_type: str | None = None,
        error_traceback: str | None = None,
        output: str | None = None,
    ) -> None:
        """Write a call's outcome (``output``: what an isolated function printed)."""
        values = {
            "call_id": call_id,
            "status": status,
            "duration_ms": duration_ms,
            "error_message": error_message,
            "error_type": error_type,
            "error_traceback": error_traceback,
            "output": output,
        }
        await self._write(lambda: self._execute(self._update, values))

    def _execute(self, statement: sa.Executable, values: dict[str, Any]) -> None:
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


def _call_id(text: str, error: Exception) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise error from None
