"""Claims, leases and their expiry on a real database (SQLite file and PostgreSQL).

Times are given, not read: every statement gets its ``now``. Two "processes" are two
owners (and, for the race, two threads on two connections).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.models import (
    FunctionCall,
    FunctionSchedule,
    PasswordReset,
    ScheduleRun,
    User,
    UserSession,
)
from tinybase.schedule import claims
from tinybase.schedule.housekeeping import Housekeeping
from tinybase.utils import uuid7

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
_schedule = FunctionSchedule.__table__
_run = ScheduleRun.__table__
_call = FunctionCall.__table__


def add_schedule(db: Database, *, next_run_at: datetime = T0, **values: Any) -> uuid.UUID:
    schedule_id = uuid7()
    row = {
        "id": schedule_id,
        "function_name": "note",
        "payload": {"n": 1},
        "schedule": {"method": "interval", "every": 60},
        "enabled": True,
        "next_run_at": next_run_at,
        "created_at": T0 - timedelta(hours=1),
        "updated_at": T0 - timedelta(hours=1),
        **values,
    }
    with db.write() as conn:
        conn.execute(sa.insert(_schedule).values(row))
    return schedule_id


def due(db: Database, now: datetime) -> list[Any]:
    with db.read() as conn:
        return claims.due_schedules(conn, now, limit=100)


def claim(db: Database, row: Any, now: datetime, owner: str, following: datetime | None):
    with db.write() as conn:
        return claims.claim_due(conn, row, next_run_at=following, now=now, owner=owner, lease=LEASE)


def schedule_row(db: Database, schedule_id: uuid.UUID) -> Any:
    with db.read() as conn:
        return conn.execute(sa.select(_schedule).where(_schedule.c.id == schedule_id)).one()


def runs(db: Database, schedule_id: uuid.UUID) -> list[Any]:
    with db.read() as conn:
        query = sa.select(_run).where(_run.c.schedule_id == schedule_id).order_by(_run.c.attempt)
        return conn.execute(query).all()


def test_a_due_run_is_claimed_once_by_two_owners(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db)
    now = T0 + timedelta(seconds=3)
    [seen_by_a] = due(migrated_db, now)
    [seen_by_b] = due(migrated_db, now)  # both processes read it before either claims
    won = claim(migrated_db, seen_by_a, now, "a", T0 + timedelta(minutes=1))
    lost = claim(migrated_db, seen_by_b, now, "b", T0 + timedelta(minutes=1))
    assert won is not None and lost is None
    assert (won.schedule_id, won.slot, won.attempt, won.trigger) == (schedule_id, T0, 1, "schedule")
    assert won.payload == {"n": 1}
    row = schedule_row(migrated_db, schedule_id)
    assert (row.next_run_at, row.last_run_at, row.enabled) == (T0 + timedelta(minutes=1), now, True)
    [run] = runs(migrated_db, schedule_id)
    assert (run.status, run.claimed_by, run.lease_expires_at) == ("running", "a", now + LEASE)


def test_concurrent_claims_on_two_connections_have_one_winner(migrated_db: Database) -> None:
    schedule_ids = [add_schedule(migrated_db) for _ in range(20)]
    now = T0 + timedelta(seconds=1)
    rows = due(migrated_db, now)
    won: dict[str, list[Any]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def process(owner: str) -> None:
        start.wait()
        for row in rows:
            got = claim(migrated_db, row, now, owner, T0 + timedelta(minutes=1))
            if got is not None:
                won[owner].append(got.schedule_id)

    threads = [threading.Thread(target=process, args=(owner,)) for owner in won]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won["a"] + won["b"]) == sorted(schedule_ids)
    for schedule_id in schedule_ids:
        assert len(runs(migrated_db, schedule_id)) == 1


def test_no_second_run_while_one_is_going(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db)
    [row] = due(migrated_db, T0)
    assert claim(migrated_db, row, T0, "a", T0 + timedelta(seconds=10)) is not None
    later = T0 + timedelta(seconds=25)  # the next slot is due, the first run still going
    [row] = due(migrated_db, later)
    assert claim(migrated_db, row, later, "b", T0 + timedelta(seconds=30)) is None
    with migrated_db.read() as conn:
        assert claims.earliest_next_run(conn) is None  # nothing claimable: the loop rests
    with migrated_db.write() as conn:
        [run] = runs(migrated_db, schedule_id)
        assert claims.finish_run(conn, run.id, status="succeeded", error=None, now=later)
    # Its missed slot collapses into one run, claimed now.
    assert claim(migrated_db, row, later, "b", T0 + timedelta(seconds=30)) is not None
    assert [r.status for r in runs(migrated_db, schedule_id)] == ["succeeded", "running"]


def test_a_once_schedule_is_disabled_by_its_claim(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db, schedule={"method": "once", "at": T0.isoformat()})
    [row] = due(migrated_db, T0)
    assert claim(migrated_db, row, T0, "a", None) is not None
    after = schedule_row(migrated_db, schedule_id)
    assert (after.enabled, after.next_run_at) == (False, None)
    assert due(migrated_db, T0 + timedelta(days=1)) == []


def test_a_disabled_or_changed_schedule_is_not_claimed(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db)
    [row] = due(migrated_db, T0)
    with migrated_db.write() as conn:
        conn.execute(
            sa.update(_schedule)
            .where(_schedule.c.id == schedule_id)
            .values(next_run_at=T0 + timedelta(hours=1))
        )
    assert claim(migrated_db, row, T0, "a", T0 + timedelta(minutes=1)) is None
    assert runs(migrated_db, schedule_id) == []


def test_expired_lease_is_marked_interrupted_and_not_retried(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db)
    [row] = due(migrated_db, T0)
    dead = claim(migrated_db, row, T0, "dead", T0 + timedelta(minutes=1))
    assert dead is not None
    # The dead process had started its call record.
    with migrated_db.write() as conn:
        conn.execute(
            sa.insert(_call).values(
                id=uuid7(),
                function_name="note",
                trigger_type="schedule",
                trigger_id=schedule_id,
                status="running",
                created_at=T0 + timedelta(milliseconds=5),
            )
        )
    with migrated_db.write() as conn:  # still within the lease: nothing to take over
        assert (
            claims.take_over_expired(
                conn, T0 + LEASE - timedelta(seconds=1), owner="b", lease=LEASE, max_attempts=1
            )
            == []
        )
    expired = T0 + LEASE + timedelta(seconds=1)
    with migrated_db.write() as conn:
        assert claims.take_over_expired(conn, expired, owner="b", lease=LEASE, max_attempts=1) == []
    with migrated_db.write() as conn:  # a second process finds nothing left to do
        assert claims.take_over_expired(conn, expired, owner="c", lease=LEASE, max_attempts=2) == []
    [run] = runs(migrated_db, schedule_id)
    assert (run.status, run.finished_at, run.error) == ("interrupted", expired, claims.INTERRUPTED)
    with migrated_db.read() as conn:
        [call] = conn.execute(sa.select(_call)).all()
    assert (call.status, call.error_type) == ("failed", "ScheduleRunInterrupted")
    # The dead process's late finish changes nothing; the schedule can be claimed again.
    with migrated_db.write() as conn:
        assert not claims.finish_run(conn, dead.run_id, status="succeeded", error=None, now=expired)
    [row] = due(migrated_db, T0 + timedelta(minutes=1))
    assert claim(migrated_db, row, T0 + timedelta(minutes=1), "b", T0 + timedelta(minutes=2))


def test_expired_lease_is_retried_once_when_attempts_allow(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db)
    [row] = due(migrated_db, T0)
    claim(migrated_db, row, T0, "dead", T0 + timedelta(minutes=1))
    expired = T0 + LEASE + timedelta(seconds=1)
    with migrated_db.write() as conn:
        [retry] = claims.take_over_expired(conn, expired, owner="b", lease=LEASE, max_attempts=2)
    assert (retry.slot, retry.attempt, retry.schedule_id) == (T0, 2, schedule_id)
    again = expired + LEASE + timedelta(seconds=1)
    with migrated_db.write() as conn:  # the retry's process dies too: given up
        assert claims.take_over_expired(conn, again, owner="c", lease=LEASE, max_attempts=2) == []
    assert [(r.attempt, r.status) for r in runs(migrated_db, schedule_id)] == [
        (1, "interrupted"),
        (2, "interrupted"),
    ]


def test_renewed_lease_is_not_taken_over(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db)
    [row] = due(migrated_db, T0)
    held = claim(migrated_db, row, T0, "a", T0 + timedelta(minutes=1))
    renewed_at = T0 + timedelta(seconds=20)
    with migrated_db.write() as conn:
        claims.renew_leases(conn, [held.run_id], until=renewed_at + LEASE)
    with migrated_db.write() as conn:
        taken = claims.take_over_expired(
            conn, T0 + LEASE + timedelta(seconds=1), owner="b", lease=LEASE, max_attempts=2
        )
    assert taken == []
    assert [r.status for r in runs(migrated_db, schedule_id)] == ["running"]


def test_manual_run_claims_a_run_without_moving_the_schedule(migrated_db: Database) -> None:
    schedule_id = add_schedule(migrated_db, next_run_at=T0 + timedelta(hours=1))
    with migrated_db.write() as conn:
        manual = claims.claim_manual(conn, schedule_id, now=T0, owner="a", lease=LEASE)
        missing = claims.claim_manual(conn, uuid7(), now=T0, owner="a", lease=LEASE)
    assert missing is None
    assert (manual.trigger, manual.slot) == ("manual", T0)
    assert schedule_row(migrated_db, schedule_id).next_run_at == T0 + timedelta(hours=1)


def test_run_as_user_travels_with_the_claim(migrated_db: Database) -> None:
    user_id = uuid7()
    with migrated_db.write() as conn:
        conn.execute(
            sa.insert(User.__table__).values(
                id=user_id,
                email="runner@example.com",
                password_hash="x",
                is_admin=False,
                token_version=0,
                created_at=T0,
                updated_at=T0,
            )
        )
    add_schedule(migrated_db, run_as=user_id)
    [row] = due(migrated_db, T0)
    got = claim(migrated_db, row, T0, "a", T0 + timedelta(minutes=1))
    assert (got.run_as, got.run_as_is_admin, got.run_as_email) == (
        str(user_id),
        False,
        "runner@example.com",
    )
    # A deleted user takes their schedules along: none falls back to the system identity.
    with migrated_db.write() as conn:
        conn.execute(sa.delete(User.__table__).where(User.__table__.c.id == user_id))
    with migrated_db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_schedule)).scalar() == 0


def test_housekeeping_deletes_what_expired(migrated_db: Database) -> None:
    user_id = uuid7()
    now = T0
    session = UserSession.__table__
    reset = PasswordReset.__table__
    with migrated_db.write() as conn:
        conn.execute(
            sa.insert(User.__table__).values(
                id=user_id,
                email="kept@example.com",
                password_hash="x",
                is_admin=False,
                token_version=0,
                created_at=now,
                updated_at=now,
            )
        )

        def add_session(name: str, **values: Any) -> None:
            conn.execute(
                sa.insert(session).values(
                    {
                        "id": uuid7(),
                        "user_id": user_id,
                        "family_id": uuid7(),
                        "token_hash": name.ljust(64, "0"),
                        "created_at": now - timedelta(days=2),
                        "expires_at": now + timedelta(hours=1),
                        **values,
                    }
                )
            )

        add_session("live")
        add_session("expired", expires_at=now - timedelta(seconds=1))
        add_session("revoked-long-ago", revoked_at=now - timedelta(hours=1))
        add_session("revoked-just-now", revoked_at=now - timedelta(minutes=1))
        add_session("rotated", rotated_at=now - timedelta(hours=1))
        for name, values in {
            "pending": {"expires_at": now + timedelta(minutes=30)},
            "used": {"expires_at": now + timedelta(minutes=30), "used_at": now},
            "old": {"expires_at": now - timedelta(minutes=1)},
        }.items():
            conn.execute(
                sa.insert(reset).values(
                    token_hash=name.ljust(64, "0"), user_id=user_id, created_at=now, **values
                )
            )
        for age in (timedelta(days=31), timedelta(days=29)):
            conn.execute(
                sa.insert(_call).values(
                    id=uuid7(),
                    function_name="note",
                    trigger_type="manual",
                    status="succeeded",
                    created_at=now - age,
                )
            )
    keeper = Housekeeping(access_token_ttl=timedelta(minutes=15), call_retention=timedelta(days=30))
    with migrated_db.write() as conn:
        cleaned = keeper.clean(conn, now)
    assert (cleaned.sessions, cleaned.resets, cleaned.calls) == (2, 2, 1)
    with migrated_db.read() as conn:
        hashes = {h.rstrip("0") for h in conn.execute(sa.select(session.c.token_hash)).scalars()}
        resets = {h.rstrip("0") for h in conn.execute(sa.select(reset.c.token_hash)).scalars()}
        calls = conn.execute(sa.select(_call.c.created_at)).scalars().all()
    assert hashes == {"live", "revoked-just-now", "rotated"}
    assert resets == {"pending"}
    assert calls == [now - timedelta(days=29)]
    forever = Housekeeping(access_token_ttl=timedelta(minutes=15), call_retention=None)
    with migrated_db.write() as conn:
        assert forever.clean(conn, now + timedelta(days=400)).calls == 0
