"""Schedules: once, interval and cron runs of functions, each run exactly once across the
processes of an instance (see docs/schedules.md).

    timing        the maths: parse a schedule, compute its next runs (UTC, zones, DST)
    claims        the conditional writes that claim a due run, leases and their expiry
    scheduler     the claim-and-run loop of one process (an AppState background task)
    housekeeping  expired sessions, reset tokens, old call records
    service       schedules as admins manage them
    calls         the seam to the functions machinery
"""

from __future__ import annotations

from datetime import timedelta

from tinybase.data import Database
from tinybase.functions.service import Functions
from tinybase.records.executor import DatabaseExecutor
from tinybase.schedule.calls import InstanceFunctions
from tinybase.schedule.housekeeping import Housekeeping
from tinybase.schedule.scheduler import Scheduler, SchedulerOptions
from tinybase.schedule.service import ScheduleService
from tinybase.settings import Config

__all__ = ["ScheduleService", "Scheduler", "build_schedules"]


def build_schedules(
    config: Config, *, db: Database, executor: DatabaseExecutor, functions: Functions
) -> tuple[ScheduleService, Scheduler]:
    """The instance's schedule service and this process's scheduler (start its ``run``)."""
    calls = InstanceFunctions(functions.registry, functions.runner)
    retention = config.scheduler_call_retention_days
    housekeeping = Housekeeping(
        access_token_ttl=timedelta(minutes=config.auth_access_token_ttl_minutes),
        call_retention=timedelta(days=retention) if retention else None,
    )
    options = SchedulerOptions(
        enabled=config.scheduler_enabled,
        interval_seconds=config.scheduler_interval_seconds,
        lease_seconds=config.scheduler_lease_seconds,
        max_attempts=config.scheduler_max_attempts,
        cleanup_interval_seconds=config.scheduler_token_cleanup_interval,
    )
    service = ScheduleService(db, write=executor.write_blocking, functions=calls)
    scheduler = Scheduler(db, executor, calls, housekeeping=housekeeping, options=options)
    return service, scheduler
