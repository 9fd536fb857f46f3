"""The claim-and-run loop every process with ``scheduler_enabled`` runs.

Each tick (every ``scheduler_interval_seconds``, or sooner when the next run is due sooner):

1. runs whose lease expired are marked interrupted and retried per the policy
   (:func:`tinybase.schedule.claims.take_over_expired`);
2. the due schedules are read and each due run is claimed (:mod:`tinybase.schedule.claims`);
   the claims go to the instance's single writer together, so on SQLite they share one
   COMMIT with whatever else is being written instead of fighting it for the file's lock;
3. every claimed run is started in the scheduler's own task group and never awaited by
   the tick: a function that takes a minute delays no other schedule;
4. the leases of this process's runs still going are renewed;
5. every ``scheduler_token_cleanup_interval``, the housekeeping is started (also not awaited).

Nothing blocks the event loop: the database work runs in the executor's threads, the
functions in the functions runner.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import anyio
import sqlalchemy as sa
from anyio.abc import TaskGroup

from tinybase.auth.principal import SYSTEM, Principal
from tinybase.data import Database
from tinybase.errors import TinyBaseError
from tinybase.records.executor import DatabaseExecutor
from tinybase.schedule import claims
from tinybase.schedule.calls import RunOutcome, ScheduledFunctions
from tinybase.schedule.housekeeping import Housekeeping
from tinybase.schedule.timing import next_run, parse_schedule
from tinybase.utils import utcnow

__all__ = ["Scheduler", "SchedulerOptions"]

logger = logging.getLogger("tinybase.schedule")

_BATCH = 100  # due schedules claimed per tick at most (the rest: next tick, at once)
_MIN_SLEEP = 0.01


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    """How the loop runs (from the static config)."""

    enabled: bool = True
    interval_seconds: float = 5.0
    lease_seconds: float = 30.0
    max_attempts: int = 1
    cleanup_interval_seconds: float = 60.0


class Scheduler:
    """One process's scheduler; its :meth:`run` is an ``AppState`` background task.

    Args:
        db: the instance's database.
        executor: the instance's single writer and readers.
        functions: runs the scheduled functions.
        housekeeping: the periodic clean-up (None: none).
        options: intervals, lease and retry policy.
        clock: the current UTC time.
    """

    def __init__(
        self,
        db: Database,
        executor: DatabaseExecutor,
        functions: ScheduledFunctions,
        *,
        housekeeping: Housekeeping | None = None,
        options: SchedulerOptions = SchedulerOptions(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._executor = executor
        self._functions = functions
        self._housekeeping = housekeeping
        self.options = options
        self._clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = timedelta(seconds=options.lease_seconds)
        self._running: set[uuid.UUID] = set()
        self._runs: TaskGroup | None = None
        self._last_cleanup: datetime | None = None
        self._wake = anyio.Event()

    @property
    def running(self) -> frozenset[uuid.UUID]:
        """The runs this process has going now."""
        return frozenset(self._running)

    async def run(self) -> None:
        """Tick until cancelled (the app's shutdown). With the scheduler disabled, only
        runs started by :meth:`run_now` are served (and their leases renewed)."""
        async with anyio.create_task_group() as runs:
            self._runs = runs
            try:
                while True:
                    with anyio.move_on_after(await self._safe_tick()):
                        await self._wake.wait()
                    self._wake = anyio.Event()
            finally:
                self._runs = None

    async def run_now(self, schedule_id: uuid.UUID) -> uuid.UUID | None:
        """Claim a run of ``schedule_id`` now and start it; its run id (None: no schedule).

        Raises:
            RuntimeError: the scheduler's loop is not running in this process.
        """
        if self._runs is None:
            raise RuntimeError("the scheduler is not running")
        claim = await self._claim_manual(schedule_id)
        if claim is None:
            return None
        self._start(claim)
        return claim.run_id

    async def run_and_wait(self, schedule_id: uuid.UUID) -> RunOutcome | None:
        """Claim a run of ``schedule_id`` now, run it here and wait for it (the CLI's
        ``tinybase schedules run``), renewing its lease meanwhile; None: no schedule."""
        claim = await self._claim_manual(schedule_id)
        if claim is None:
            return None
        self._running.add(claim.run_id)
        async with anyio.create_task_group() as renewing:
            renewing.start_soon(self._keep_renewing)
            outcome = await self._execute(claim)
            renewing.cancel_scope.cancel()
        return outcome

    async def _claim_manual(self, schedule_id: uuid.UUID) -> claims.Claim | None:
        return await self._write(
            claims.claim_manual, schedule_id, now=self._clock(), owner=self.owner, lease=self._lease
        )

    async def _keep_renewing(self) -> None:
        while True:
            await anyio.sleep(self.options.lease_seconds / 3)
            await self._renew(self._clock())

    async def _safe_tick(self) -> float:
        try:
            return await self.tick()
        except (sa.exc.SQLAlchemyError, TinyBaseError, OSError):
            # A transient database error must not stop the scheduler: log, try again.
            logger.warning("scheduler tick failed; retrying", exc_info=True)
            return self.options.interval_seconds
        except Exception:
            # A bug here must not take the server down with it, nor stop the schedules for
            # good: it is logged as one, and the next tick tries again.
            logger.exception("scheduler tick failed unexpectedly; retrying")
            return self.options.interval_seconds

    async def tick(self) -> float:
        """One pass (see the module docstring); how long to sleep before the next."""
        now = self._clock()
        await self._renew(now)
        if not self.options.enabled:
            return self.options.interval_seconds
        for claim in await self._take_over(now):
            self._start(claim)
        for claim in await self._claim_due(now):
            self._start(claim)
        self._maybe_clean(now)
        return await self._sleep_seconds()

    async def _take_over(self, now: datetime) -> list[claims.Claim]:
        return await self._write(
            claims.take_over_expired,
            now,
            owner=self.owner,
            lease=self._lease,
            max_attempts=self.options.max_attempts,
        )

    async def _claim_due(self, now: datetime) -> list[claims.Claim]:
        due = await self._read(claims.due_schedules, now, limit=_BATCH)
        found: list[claims.Claim] = []

        async def claim(row: sa.Row[Any]) -> None:
            try:
                won = await self._write(self._claim_one, row, now)
            except sa.exc.SQLAlchemyError:  # this one only; the others are claimed
                logger.warning("claiming schedule %s failed", row.id, exc_info=True)
                return
            if won is not None:
                found.append(won)

        # Submitted together: on SQLite they share one group commit of the writer.
        async with anyio.create_task_group() as claiming:
            for row in due:
                claiming.start_soon(claim, row)
        return found

    def _claim_one(
        self, conn: sa.Connection, row: sa.Row[Any], now: datetime
    ) -> claims.Claim | None:
        try:
            schedule = parse_schedule(row.schedule)
        except TinyBaseError:
            logger.error("schedule %s is invalid; skipped: %r", row.id, row.schedule)
            return None
        following = next_run(schedule, now, anchor=row.created_at)
        return claims.claim_due(
            conn, row, next_run_at=following, now=now, owner=self.owner, lease=self._lease
        )

    def _start(self, claim: claims.Claim) -> None:
        assert self._runs is not None
        self._running.add(claim.run_id)
        self._runs.start_soon(self._execute, claim, name=f"schedule run {claim.run_id}")

    async def _execute(self, claim: claims.Claim) -> RunOutcome:
        """Run one claimed run and record how it ended."""
        try:
            outcome = await self._functions.call(
                claim.function_name,
                claim.payload,
                trigger_id=claim.schedule_id,
                principal=_principal(claim),
            )
        except TinyBaseError as exc:  # refused before the call: unknown function, payload
            logger.warning("scheduled run of %s refused: %s", claim.function_name, exc.detail)
            outcome = RunOutcome("failed", f"{type(exc).__name__}: {exc.detail}")
        except Exception as exc:  # the runner's own failure: logged, the run ends as failed
            logger.exception("scheduled run of %s failed", claim.function_name)
            outcome = RunOutcome("failed", type(exc).__name__)
        finally:
            self._running.discard(claim.run_id)
        finished = await self._write(
            claims.finish_run,
            claim.run_id,
            status=outcome.status,
            error=outcome.error,
            now=self._clock(),
        )
        if not finished:
            # Taken over as interrupted (its lease expired), or its schedule was deleted.
            logger.warning("schedule run %s ended, but its claim was gone", claim.run_id)
        self._wake.set()  # its schedule may be due again: claimable now that this ended
        return outcome

    async def _renew(self, now: datetime) -> None:
        if self._running:
            await self._write(claims.renew_leases, list(self._running), until=now + self._lease)

    def _maybe_clean(self, now: datetime) -> None:
        interval = timedelta(seconds=self.options.cleanup_interval_seconds)
        if self._housekeeping is None or self._runs is None:
            return
        if self._last_cleanup is not None and now - self._last_cleanup < interval:
            return
        self._last_cleanup = now
        self._runs.start_soon(self._clean, now, name="housekeeping")

    async def _clean(self, now: datetime) -> None:
        assert self._housekeeping is not None
        try:
            await self._write(self._housekeeping.clean, now)
        except sa.exc.SQLAlchemyError:
            logger.warning("housekeeping failed; retrying at the next interval", exc_info=True)

    async def _sleep_seconds(self) -> float:
        """Until the next due run, at most one interval."""
        earliest = await self._read(claims.earliest_next_run)
        interval = self.options.interval_seconds
        if earliest is None:
            return interval
        wait = (earliest - self._clock()).total_seconds()
        return min(interval, max(wait, _MIN_SLEEP))

    async def _write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(conn, *args, **kwargs)`` in a write transaction of the instance's writer.

        Shielded from cancellation: at shutdown the statement runs to its end and its
        connection goes back to the pool before the engine is disposed (an abandoned job
        would still hold it). Each is one short statement or a few.
        """
        with anyio.CancelScope(shield=True):
            return await self._executor.write(partial(self._in_write, fn, *args, **kwargs))

    async def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(conn, *args, **kwargs)`` in a reader thread (shielded, as :meth:`_write`)."""
        with anyio.CancelScope(shield=True):
            return await self._executor.read(partial(self._in_read, fn, *args, **kwargs))

    def _in_write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._db.write() as conn:
            return fn(conn, *args, **kwargs)

    def _in_read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._db.read() as conn:
            return fn(conn, *args, **kwargs)


def _principal(claim: claims.Claim) -> Principal:
    """Who a run runs as: its ``run_as`` user as they are now, else the system identity."""
    if claim.run_as is None:
        return SYSTEM
    return Principal(user_id=claim.run_as, is_admin=claim.run_as_is_admin, email=claim.run_as_email)
