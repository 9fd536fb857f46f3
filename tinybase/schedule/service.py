"""Schedules as admins manage them: create, read, list, change, delete, and their runs.

Every schedule is validated when it is written: its ``schedule`` object
(:func:`tinybase.schedule.timing.parse_schedule`), its function (which must exist) and its
payload (which must fit the function's input type), and its ``run_as`` user (which must
exist). ``next_run_at`` is computed here from the schedule and the clock, and again whenever
the schedule is changed or enabled.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import FunctionSchedule, ScheduleRun, User
from tinybase.errors import BadRequestError, NotFoundError, ValidationError
from tinybase.schedule.calls import ScheduledFunctions
from tinybase.schedule.timing import OnceSchedule, Schedule, next_run, next_runs, parse_schedule
from tinybase.utils import utcnow, uuid7

__all__ = ["NEXT_RUNS_SHOWN", "UNCHANGED", "SchedulePage", "ScheduleService"]

T = TypeVar("T")
Write = Callable[[Callable[[], T]], T]

NEXT_RUNS_SHOWN = 5
UNCHANGED: Any = object()
"""The default of :meth:`ScheduleService.update`'s arguments: leave this field as it is."""

_schedule: sa.Table = FunctionSchedule.__table__  # type: ignore[attr-defined]
_run: sa.Table = ScheduleRun.__table__  # type: ignore[attr-defined]
_user: sa.Table = User.__table__  # type: ignore[attr-defined]
_NOT_FOUND = "Schedule not found"


@dataclass(frozen=True, slots=True)
class SchedulePage:
    """One page of schedules, oldest first, and the cursor of the next (None: the last)."""

    schedules: list[dict[str, Any]]
    cursor: str | None


class ScheduleService:
    """The ``_function_schedule`` rows of one instance.

    Args:
        db: the instance's database (reads).
        write: runs a write job in the instance's writer and returns its result
            (``DatabaseExecutor.write_blocking``); the job writes through ``db.write()``.
        functions: checks function names and payloads.
        clock: the current UTC time (tests pass their own).
    """

    def __init__(
        self,
        db: Database,
        *,
        write: Write[Any],
        functions: ScheduledFunctions,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._write = write
        self._functions = functions
        self._clock = clock

    def create(
        self,
        *,
        function_name: str,
        schedule: object,
        payload: dict[str, Any] | None = None,
        enabled: bool = True,
        run_as: str | None = None,
    ) -> dict[str, Any]:
        """Add a schedule; return it as :meth:`get` does.

        Raises:
            ValidationError: a bad schedule (see :func:`parse_schedule`), a ``once`` in the
                past, an unknown function, a payload that does not fit it, an unknown user.
        """
        now = self._clock()
        payload = {} if payload is None else payload
        parsed = parse_schedule(schedule)
        self._functions.check(function_name, payload)
        row = {
            "id": uuid7(),
            "function_name": function_name,
            "payload": payload,
            "schedule": dict(schedule),  # type: ignore[call-overload]
            "enabled": enabled,
            "run_as": self._user_id(run_as),
            "next_run_at": self._first_run(parsed, now, anchor=now) if enabled else None,
            "created_at": now,
            "updated_at": now,
        }
        self._write(lambda: self._execute(sa.insert(_schedule).values(row)))
        return self.get(row["id"])

    def get(self, schedule_id: uuid.UUID | str) -> dict[str, Any]:
        """One schedule, with its next few run times.

        Raises:
            NotFoundError: no schedule has this id.
        """
        key = _schedule_id(schedule_id)
        with self._db.read() as conn:
            row = conn.execute(sa.select(_schedule).where(_schedule.c.id == key)).first()
        if row is None:
            raise NotFoundError(_NOT_FOUND)
        return self._public(row)

    def list(self, *, limit: int = 100, cursor: str | None = None) -> SchedulePage:
        """A page of schedules, oldest first; ``cursor`` is the last id of the page before.

        Raises:
            BadRequestError: the cursor is not a schedule id.
        """
        query = sa.select(_schedule).order_by(_schedule.c.id).limit(limit + 1)
        if cursor is not None:
            try:
                after = uuid.UUID(cursor)
            except ValueError:
                raise BadRequestError("Invalid cursor") from None
            query = query.where(_schedule.c.id > after)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        page = [self._public(row) for row in rows[:limit]]
        more = len(rows) > limit
        return SchedulePage(page, str(page[-1]["id"]) if more else None)

    def update(
        self,
        schedule_id: uuid.UUID | str,
        *,
        function_name: str = UNCHANGED,
        schedule: object = UNCHANGED,
        payload: dict[str, Any] = UNCHANGED,
        enabled: bool = UNCHANGED,
        run_as: str | None = UNCHANGED,
    ) -> dict[str, Any]:
        """Change a schedule; ``next_run_at`` is computed again when its schedule changes or
        it is enabled.

        Raises:
            NotFoundError: no schedule has this id.
            ValidationError: as for :meth:`create` (enabling a ``once`` that is past, too).
        """
        given = {"function_name": function_name, "schedule": schedule, "payload": payload}
        for field, value in {**given, "enabled": enabled}.items():
            if value is None:
                raise ValidationError.for_field(field, "must not be null")
        current = self.get(schedule_id)
        now = self._clock()
        name = current["function_name"] if function_name is UNCHANGED else function_name
        body = current["payload"] if payload is UNCHANGED else payload
        raw = current["schedule"] if schedule is UNCHANGED else schedule
        parsed = parse_schedule(raw)
        if function_name is not UNCHANGED or payload is not UNCHANGED:
            self._functions.check(name, body)
        changes: dict[str, Any] = {"function_name": name, "payload": body, "updated_at": now}
        changes["schedule"] = dict(raw)  # type: ignore[call-overload]
        if run_as is not UNCHANGED:
            changes["run_as"] = self._user_id(run_as)
        turned_on = enabled is True and not current["enabled"]
        if enabled is not UNCHANGED:
            changes["enabled"] = enabled
        if enabled is False:
            changes["next_run_at"] = None
        elif schedule is not UNCHANGED or turned_on:
            is_on = current["enabled"] if enabled is UNCHANGED else enabled
            anchor = current["created_at"]
            changes["next_run_at"] = self._first_run(parsed, now, anchor=anchor) if is_on else None
        key = current["id"]
        self._write(
            lambda: self._execute(sa.update(_schedule).where(_schedule.c.id == key).values(changes))
        )
        return self.get(key)

    def delete(self, schedule_id: uuid.UUID | str) -> None:
        """Delete a schedule and its run history (a run going on finishes).

        Raises:
            NotFoundError: no schedule has this id.
        """
        key = _schedule_id(schedule_id)
        deleted = self._write(
            lambda: self._execute(sa.delete(_schedule).where(_schedule.c.id == key)).rowcount
        )
        if deleted != 1:
            raise NotFoundError(_NOT_FOUND)

    def runs(self, schedule_id: uuid.UUID | str, *, limit: int = 20) -> list[dict[str, Any]]:
        """The schedule's most recent runs, newest first.

        Raises:
            NotFoundError: no schedule has this id.
        """
        key = self.get(schedule_id)["id"]
        query = (
            sa.select(_run)
            .where(_run.c.schedule_id == key)
            .order_by(_run.c.started_at.desc(), _run.c.id.desc())
            .limit(limit)
        )
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def _execute(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        with self._db.write() as conn:
            return conn.execute(statement)

    def _first_run(self, parsed: Schedule, now: datetime, *, anchor: datetime) -> datetime | None:
        if isinstance(parsed, OnceSchedule) and parsed.at <= now:
            raise ValidationError(
                [
                    {
                        "loc": ["body", "schedule", "at"],
                        "msg": f"{parsed.at.isoformat()} is in the past",
                        "type": "value_error",
                    }
                ]
            )
        return next_run(parsed, now, anchor=anchor)

    def _user_id(self, run_as: str | None) -> uuid.UUID | None:
        if run_as is None:
            return None
        problem = ValidationError.for_field("run_as", f"unknown user {run_as!r}")
        try:
            user_id = uuid.UUID(str(run_as))
        except ValueError:
            raise problem from None
        with self._db.read() as conn:
            found = conn.execute(sa.select(_user.c.id).where(_user.c.id == user_id)).first()
        if found is None:
            raise problem
        return user_id

    def _public(self, row: sa.Row[Any]) -> dict[str, Any]:
        shown = dict(row._mapping)
        shown["next_runs"] = self._upcoming(row)
        return shown

    def _upcoming(self, row: sa.Row[Any]) -> list[datetime]:
        if not row.enabled or row.next_run_at is None:
            return []
        try:
            parsed = parse_schedule(row.schedule)
        except ValidationError:  # written by something else than this service
            return [row.next_run_at]
        later = next_runs(parsed, row.next_run_at, anchor=row.created_at, count=NEXT_RUNS_SHOWN - 1)
        return [row.next_run_at, *later]


def _schedule_id(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError(_NOT_FOUND) from None
