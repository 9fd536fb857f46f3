"""Housekeeping the scheduler does every ``scheduler_token_cleanup_interval`` seconds.

Deletes what no request can use any more:

- refresh-token sessions past their expiry (rotated and revoked ones too: an expired token is
  refused whatever its state, so its row no longer detects anything), and revoked ones whose
  revocation every process has picked up (older than an access token's lifetime plus the
  revocation poll's overlap: their access tokens have expired by then);
- password-reset tokens that expired or were used;
- function call records older than ``scheduler_call_retention_days`` (0: kept for ever), and
  the finished runs of schedules as old.

Every process may run it: the deletes are idempotent, so two at once delete each row once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from tinybase.db.models import FunctionCall, PasswordReset, ScheduleRun, UserSession

__all__ = ["Cleaned", "Housekeeping"]

logger = logging.getLogger("tinybase.schedule")

_session: sa.Table = UserSession.__table__  # type: ignore[attr-defined]
_reset: sa.Table = PasswordReset.__table__  # type: ignore[attr-defined]
_call: sa.Table = FunctionCall.__table__  # type: ignore[attr-defined]
_run: sa.Table = ScheduleRun.__table__  # type: ignore[attr-defined]

# The revocation poll re-reads a window this long before its last poll (auth.revocation).
_REVOCATION_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Cleaned:
    """How many rows one clean-up deleted, per kind."""

    sessions: int
    resets: int
    calls: int
    runs: int


@dataclass(frozen=True, slots=True)
class Housekeeping:
    """The clean-up of one instance.

    Args:
        access_token_ttl: how long an access token lives (revoked sessions outlive it).
        call_retention: how long call records are kept (None: for ever).
    """

    access_token_ttl: timedelta
    call_retention: timedelta | None

    def clean(self, conn: sa.Connection, now: datetime) -> Cleaned:
        """Delete what has expired at ``now`` (inside the caller's write transaction)."""
        revoked_before = now - self.access_token_ttl - _REVOCATION_MARGIN
        sessions = conn.execute(
            sa.delete(_session).where(
                sa.or_(_session.c.expires_at < now, _session.c.revoked_at < revoked_before)
            )
        ).rowcount
        resets = conn.execute(
            sa.delete(_reset).where(sa.or_(_reset.c.expires_at < now, _reset.c.used_at.isnot(None)))
        ).rowcount
        calls = runs = 0
        if self.call_retention is not None:
            cutoff = now - self.call_retention
            calls = conn.execute(sa.delete(_call).where(_call.c.created_at < cutoff)).rowcount
            runs = conn.execute(
                sa.delete(_run).where(_run.c.status != "running", _run.c.started_at < cutoff)
            ).rowcount
        cleaned = Cleaned(sessions=sessions, resets=resets, calls=calls, runs=runs)
        if sessions or resets or calls or runs:
            logger.info("housekeeping deleted %s", cleaned)
        return cleaned
