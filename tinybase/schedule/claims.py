"""Claims: how several processes on one database run each due run exactly once.

Every statement here runs on a connection inside a write transaction (the instance's single
writer, :class:`tinybase.records.executor.DatabaseExecutor`, submits them), and each claim
is a conditional write whose row count says who won:

- a due run is claimed by moving the schedule's ``next_run_at`` on, *only if it still holds
  the value the process read* (``UPDATE ... WHERE id = :id AND next_run_at = :seen``), and
  by inserting the run's ``_schedule_run`` row (unique per schedule, slot and attempt) in
  the same transaction. Two processes that saw the same due run both try; the database
  serialises them (SQLite has one writer; PostgreSQL locks the row and re-checks the WHERE
  for the second), so one updates one row and the other none;
- a claim carries a lease (``lease_expires_at``) that its process renews every tick while
  the function runs. A lease that expired means the process died (or hung): the first
  process to mark such a run ``interrupted`` (again conditional, on ``status='running'``)
  applies the retry policy: the run is retried while ``attempt < max_attempts`` (1 by
  default: never, since a run killed half-way may have done part of its work), and the
  schedule carries on at its next slot either way;
- a schedule has at most one run going at a time: a due run is not claimed while another
  run of the schedule holds a lease, so a slow function makes its own later runs collapse
  into one (like missed runs), and delays no other schedule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tinybase.db.models import FunctionCall, FunctionSchedule, ScheduleRun, User
from tinybase.utils import uuid7

__all__ = [
    "Claim",
    "claim_due",
    "claim_manual",
    "due_schedules",
    "earliest_next_run",
    "finish_run",
    "renew_leases",
    "take_over_expired",
]

_schedule: sa.Table = FunctionSchedule.__table__  # type: ignore[attr-defined]
_run: sa.Table = ScheduleRun.__table__  # type: ignore[attr-defined]
_call: sa.Table = FunctionCall.__table__  # type: ignore[attr-defined]
_user: sa.Table = User.__table__  # type: ignore[attr-defined]

INTERRUPTED = "the process running it stopped before it ended (its lease expired)"


@dataclass(frozen=True, slots=True)
class Claim:
    """A run this process holds: what to call, for which slot, as whom."""

    run_id: uuid.UUID
    schedule_id: uuid.UUID
    function_name: str
    payload: dict[str, Any]
    slot: datetime
    attempt: int
    trigger: str
    run_as: str | None
    run_as_is_admin: bool
    run_as_email: str | None


def due_schedules(conn: sa.Connection, now: datetime, *, limit: int) -> list[sa.Row[Any]]:
    """The enabled schedules whose next run is due at ``now``, most overdue first."""
    query = (
        sa.select(_schedule)
        .where(_schedule.c.enabled.is_(True), _schedule.c.next_run_at <= now)
        .order_by(_schedule.c.next_run_at)
        .limit(limit)
    )
    return list(conn.execute(query))


def earliest_next_run(conn: sa.Connection) -> datetime | None:
    """When the next enabled schedule is due (the loop sleeps no longer than that); those
    with a run going are left out: they cannot be claimed until it ends."""
    running = sa.exists().where(_run.c.schedule_id == _schedule.c.id, _run.c.status == "running")
    query = sa.select(sa.func.min(_schedule.c.next_run_at)).where(
        _schedule.c.enabled.is_(True), ~running
    )
    return conn.execute(query).scalar()


def claim_due(
    conn: sa.Connection,
    row: sa.Row[Any],
    *,
    next_run_at: datetime | None,
    now: datetime,
    owner: str,
    lease: timedelta,
) -> Claim | None:
    """Claim ``row``'s due run and move the schedule to ``next_run_at`` (None: a ``once``
    that is done, which is disabled); None if another process claimed it first, the row
    changed meanwhile, or a run of the schedule is still going."""
    running = sa.exists().where(_run.c.schedule_id == row.id, _run.c.status == "running")
    moved = conn.execute(
        sa.update(_schedule)
        .where(
            _schedule.c.id == row.id,
            _schedule.c.enabled.is_(True),
            _schedule.c.next_run_at == row.next_run_at,
            ~running,
        )
        .values(
            next_run_at=next_run_at,
            last_run_at=now,
            enabled=next_run_at is not None,
            updated_at=now,
        )
    )
    if moved.rowcount != 1:
        return None
    return _insert_run(conn, row.id, row.next_run_at, 1, "schedule", now, owner, lease)


def claim_manual(
    conn: sa.Connection, schedule_id: uuid.UUID, *, now: datetime, owner: str, lease: timedelta
) -> Claim | None:
    """A run of ``schedule_id`` requested now by an admin (None: no such schedule)."""
    exists = conn.execute(sa.select(_schedule.c.id).where(_schedule.c.id == schedule_id))
    if exists.first() is None:
        return None
    conn.execute(
        sa.update(_schedule)
        .where(_schedule.c.id == schedule_id)
        .values(last_run_at=now, updated_at=now)
    )
    return _insert_run(conn, schedule_id, now, 1, "manual", now, owner, lease)


def take_over_expired(
    conn: sa.Connection, now: datetime, *, owner: str, lease: timedelta, max_attempts: int
) -> list[Claim]:
    """Mark the runs whose lease expired as interrupted, with their still ``running`` call
    records; claim a retry of each that has attempts left (see the module docstring)."""
    expired = conn.execute(
        sa.select(_run).where(_run.c.status == "running", _run.c.lease_expires_at < now)
    ).all()
    retries: list[Claim] = []
    for run in expired:
        marked = conn.execute(
            sa.update(_run)
            .where(_run.c.id == run.id, _run.c.status == "running")
            .values(status="interrupted", finished_at=now, error=INTERRUPTED)
        )
        if marked.rowcount != 1:
            continue  # another process got there first
        _mark_calls_interrupted(conn, run, now)
        if run.attempt < max_attempts:
            retry = _insert_run(
                conn, run.schedule_id, run.slot, run.attempt + 1, run.trigger, now, owner, lease
            )
            if retry is not None:
                retries.append(retry)
    return retries


def _mark_calls_interrupted(conn: sa.Connection, run: sa.Row[Any], now: datetime) -> None:
    """The call record the dead process left ``running`` ends as failed: the calls of this
    schedule that started with this run and are still running (runs of one schedule do not
    overlap, so they are this run's)."""
    conn.execute(
        sa.update(_call)
        .where(
            _call.c.trigger_type == "schedule",
            _call.c.trigger_id == run.schedule_id,
            _call.c.status == "running",
            _call.c.created_at >= run.started_at,
        )
        .values(status="failed", error_type="ScheduleRunInterrupted", error_message=INTERRUPTED)
    )


def renew_leases(conn: sa.Connection, run_ids: list[uuid.UUID], *, until: datetime) -> None:
    """Extend this process's leases on the runs it is running."""
    conn.execute(
        sa.update(_run)
        .where(_run.c.id.in_(run_ids), _run.c.status == "running")
        .values(lease_expires_at=until)
    )


def finish_run(
    conn: sa.Connection, run_id: uuid.UUID, *, status: str, error: str | None, now: datetime
) -> bool:
    """Record how a run ended; False if it was meanwhile taken over as interrupted (this
    process missed renewing its lease for too long)."""
    done = conn.execute(
        sa.update(_run)
        .where(_run.c.id == run_id, _run.c.status == "running")
        .values(status=status, error=error, finished_at=now)
    )
    return done.rowcount == 1


def _insert_run(
    conn: sa.Connection,
    schedule_id: uuid.UUID,
    slot: datetime,
    attempt: int,
    trigger: str,
    now: datetime,
    owner: str,
    lease: timedelta,
) -> Claim | None:
    schedule = conn.execute(
        sa.select(
            _schedule.c.function_name,
            _schedule.c.payload,
            _schedule.c.run_as,
            _user.c.is_admin,
            _user.c.email,
        )
        .select_from(_schedule.outerjoin(_user, _user.c.id == _schedule.c.run_as))
        .where(_schedule.c.id == schedule_id)
    ).first()
    if schedule is None:  # deleted meanwhile
        return None
    run_id = uuid7()
    conn.execute(
        sa.insert(_run).values(
            id=run_id,
            schedule_id=schedule_id,
            slot=slot,
            attempt=attempt,
            trigger=trigger,
            status="running",
            claimed_by=owner,
            lease_expires_at=now + lease,
            started_at=now,
        )
    )
    return Claim(
        run_id=run_id,
        schedule_id=schedule_id,
        function_name=schedule.function_name,
        payload=dict(schedule.payload or {}),
        slot=slot,
        attempt=attempt,
        trigger=trigger,
        run_as=None if schedule.run_as is None else str(schedule.run_as),
        run_as_is_admin=bool(schedule.is_admin),
        run_as_email=schedule.email,
    )
