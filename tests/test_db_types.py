"""The shared column types round-trip their values on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tinybase.data import Database, database
from tinybase.db.types import UTCDateTime, UUIDText

_METADATA = sa.MetaData()
_EVENTS = sa.Table(
    "events",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ref", UUIDText),
    sa.Column("at", UTCDateTime),
    sa.Column("raw", sa.Text),
)


@pytest.fixture
def events_db(raw_db: Database) -> Database:
    """``raw_db`` with the empty table ``events`` of the shared column types."""
    with raw_db.write() as connection:
        _METADATA.create_all(connection)
    return raw_db


def test_datetimes_come_back_as_the_same_utc_instant(events_db: Database) -> None:
    stored = [
        datetime(2026, 11, 23, 6, 2, 9, 123456, tzinfo=UTC),
        datetime(2026, 11, 23, 6, 2, 9, tzinfo=UTC),
        datetime(2026, 11, 23, 8, 2, 9, tzinfo=timezone(timedelta(hours=2))),
    ]
    with events_db.write() as connection:
        connection.execute(
            sa.insert(_EVENTS),
            [{"id": n, "at": at} for n, at in enumerate(stored)] + [{"id": 9, "at": None}],
        )
    with events_db.read() as connection:
        rows = connection.execute(sa.select(_EVENTS.c.at).order_by(_EVENTS.c.id)).scalars().all()
    assert rows == [*stored, None]
    assert [at.utcoffset() for at in rows[:3]] == [timedelta(0)] * 3
    assert rows[2].hour == 6  # converted to UTC, not just relabelled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23 06:02:09.123456", datetime(2026, 11, 23, 6, 2, 9, 123456, tzinfo=UTC)),
        ("2026-11-23 06:02:09", datetime(2026, 11, 23, 6, 2, 9, tzinfo=UTC)),
        ("2026-11-23T08:02:09+02:00", datetime(2026, 11, 23, 6, 2, 9, tzinfo=UTC)),
    ],
)
def test_sqlite_text_written_by_other_tools_is_read_as_utc(
    sqlite_url: str, text: str, expected: datetime
) -> None:
    db = database(sqlite_url)
    with db.write() as connection:
        _METADATA.create_all(connection)
        connection.execute(sa.text("INSERT INTO events (id, at) VALUES (1, :text)"), {"text": text})
    with db.read() as connection:
        value = connection.execute(sa.select(_EVENTS.c.at)).scalar_one()
    db.engine.dispose()
    assert value == expected
    assert value.utcoffset() == timedelta(0)


def test_uuids_are_stored_as_canonical_text(events_db: Database) -> None:
    ref = uuid.uuid4()
    with events_db.write() as connection:
        connection.execute(sa.insert(_EVENTS), [{"id": 1, "ref": str(ref).upper()}])
    with events_db.read() as connection:
        stored = connection.execute(sa.select(sa.cast(_EVENTS.c.ref, sa.Text))).scalar_one()
        value = connection.execute(sa.select(_EVENTS.c.ref)).scalar_one()
    assert stored == str(ref)
    assert value == ref
