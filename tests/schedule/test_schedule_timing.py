"""Schedule maths with an injected clock: every instant is given, nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tinybase.errors import ValidationError
from tinybase.schedule.timing import (
    CronSchedule,
    IntervalSchedule,
    OnceSchedule,
    next_run,
    next_runs,
    parse_schedule,
)

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def runs(raw: dict, after: datetime, count: int = 4) -> list[datetime]:
    return next_runs(parse_schedule(raw), after, anchor=CREATED, count=count)


# -- once ----------------------------------------------------------------------------------


def test_once_runs_at_its_time_then_never() -> None:
    schedule = parse_schedule({"method": "once", "at": "2026-05-01T09:00:00Z"})
    assert schedule == OnceSchedule(at=utc(2026, 5, 1, 9), timezone="UTC")
    assert next_run(schedule, utc(2026, 4, 30), anchor=CREATED) == utc(2026, 5, 1, 9)
    assert next_run(schedule, utc(2026, 5, 1, 9), anchor=CREATED) is None
    assert runs({"method": "once", "at": "2026-05-01T09:00:00Z"}, utc(2026, 1, 2)) == [
        utc(2026, 5, 1, 9)
    ]


def test_once_naive_time_is_local_to_its_zone() -> None:
    schedule = parse_schedule(
        {"method": "once", "at": "2026-07-01T09:00", "timezone": "Europe/Berlin"}
    )
    assert schedule.at == utc(2026, 7, 1, 7)  # CEST, UTC+2
    winter = parse_schedule({"method": "once", "at": "2026-01-15T09:00", "timezone": "Asia/Tokyo"})
    assert winter.at == utc(2026, 1, 15, 0)


def test_once_with_offset_keeps_its_offset() -> None:
    schedule = parse_schedule(
        {"method": "once", "at": "2026-07-01T09:00-05:00", "timezone": "Europe/Berlin"}
    )
    assert schedule.at == utc(2026, 7, 1, 14)


# -- interval ------------------------------------------------------------------------------


def test_interval_slots_count_from_creation_without_start() -> None:
    raw = {"method": "interval", "every": 10, "unit": "minutes"}
    assert parse_schedule(raw) == IntervalSchedule(seconds=600)
    assert runs(raw, CREATED, 3) == [
        utc(2026, 1, 1, 0, 10),
        utc(2026, 1, 1, 0, 20),
        utc(2026, 1, 1, 0, 30),
    ]


def test_interval_start_at_is_the_first_run() -> None:
    raw = {"method": "interval", "every": 2, "unit": "hours", "start_at": "2026-03-01T06:00Z"}
    assert runs(raw, CREATED, 2) == [utc(2026, 3, 1, 6), utc(2026, 3, 1, 8)]


def test_interval_does_not_drift_after_a_late_run() -> None:
    # A run made 7 s late at 00:01:07 does not move the next slots: they stay on the minute.
    raw = {"method": "interval", "every": 1, "unit": "minutes", "start_at": "2026-01-01T00:00Z"}
    schedule = parse_schedule(raw)
    assert next_run(schedule, utc(2026, 1, 1, 0, 1, 7), anchor=CREATED) == utc(2026, 1, 1, 0, 2)


def test_interval_missed_runs_collapse_into_one() -> None:
    # Down from 00:00:30 to 05:42:10: the late run is made once, the next one is the next slot
    # after now, not the hundreds of slots missed in between.
    raw = {"method": "interval", "every": 1, "unit": "minutes", "start_at": "2026-01-01T00:00Z"}
    schedule = parse_schedule(raw)
    now = utc(2026, 1, 1, 5, 42, 10)
    assert next_run(schedule, now, anchor=CREATED) == utc(2026, 1, 1, 5, 43)


def test_interval_days_are_elapsed_time_across_dst() -> None:
    raw = {"method": "interval", "every": 1, "unit": "days", "start_at": "2026-03-28T12:00Z"}
    assert runs(raw, utc(2026, 3, 28), 3) == [
        utc(2026, 3, 28, 12),
        utc(2026, 3, 29, 12),
        utc(2026, 3, 30, 12),
    ]


def test_interval_of_one_second() -> None:
    raw = {"method": "interval", "every": 1, "start_at": "2026-01-01T00:00:00Z"}
    after = utc(2026, 1, 1, 0, 0, 5) + timedelta(microseconds=500_000)
    assert runs(raw, after, 2) == [utc(2026, 1, 1, 0, 0, 6), utc(2026, 1, 1, 0, 0, 7)]


# -- cron ----------------------------------------------------------------------------------


def test_cron_five_fields_in_utc_by_default() -> None:
    raw = {"method": "cron", "cron": "0 9 * * 1-5"}
    assert parse_schedule(raw) == CronSchedule(cron="0 9 * * 1-5", timezone="UTC")
    # 2026-01-02 is a Friday: the next runs are Friday 09:00, then Monday and Tuesday.
    assert runs(raw, utc(2026, 1, 2, 8), 3) == [
        utc(2026, 1, 2, 9),
        utc(2026, 1, 5, 9),
        utc(2026, 1, 6, 9),
    ]


def test_cron_six_fields_put_seconds_first() -> None:
    raw = {"method": "cron", "cron": "*/15 30 12 * * *"}
    assert runs(raw, utc(2026, 1, 1, 12, 0), 5) == [
        utc(2026, 1, 1, 12, 30, 0),
        utc(2026, 1, 1, 12, 30, 15),
        utc(2026, 1, 1, 12, 30, 30),
        utc(2026, 1, 1, 12, 30, 45),
        utc(2026, 1, 2, 12, 30, 0),
    ]


def test_cron_runs_at_local_time_of_its_zone_on_both_sides_of_dst() -> None:
    raw = {"method": "cron", "cron": "0 9 * * *", "timezone": "Europe/Berlin"}
    assert runs(raw, utc(2026, 3, 27), 4) == [
        utc(2026, 3, 27, 8),  # CET, UTC+1
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),  # CEST, UTC+2 from this Sunday
        utc(2026, 3, 30, 7),
    ]
    assert runs(raw, utc(2026, 10, 24), 3) == [
        utc(2026, 10, 24, 7),
        utc(2026, 10, 25, 8),  # back to CET
        utc(2026, 10, 26, 8),
    ]


def test_cron_new_york_zone() -> None:
    raw = {"method": "cron", "cron": "0 9 * * *", "timezone": "America/New_York"}
    assert runs(raw, utc(2026, 7, 1), 1) == [utc(2026, 7, 1, 13)]


def test_berlin_spring_skipped_time_runs_once_at_the_end_of_the_gap() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 does not exist that day.
    raw = {"method": "cron", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}
    assert runs(raw, utc(2026, 3, 28, 12), 3) == [
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST: the gap's end, once
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]


def test_berlin_spring_times_in_the_gap_collapse_into_one_run() -> None:
    raw = {"method": "cron", "cron": "*/30 * * * *", "timezone": "Europe/Berlin"}
    assert runs(raw, utc(2026, 3, 29, 0, 0), 4) == [
        utc(2026, 3, 29, 0, 30),  # 01:30 CET
        utc(2026, 3, 29, 1, 0),  # 02:00, 02:30 (skipped) and 03:00 CEST: one run
        utc(2026, 3, 29, 1, 30),  # 03:30 CEST
        utc(2026, 3, 29, 2, 0),
    ]


def test_berlin_autumn_repeated_time_runs_once_at_its_first_occurrence() -> None:
    # 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00 UTC); 02:30 happens twice.
    raw = {"method": "cron", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}
    assert runs(raw, utc(2026, 10, 24, 12), 3) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first 02:30; not again at 01:30 UTC
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
        utc(2026, 10, 27, 1, 30),
    ]


def test_berlin_autumn_asked_during_the_repeated_hour_does_not_run_again() -> None:
    raw = {"method": "cron", "cron": "*/30 * * * *", "timezone": "Europe/Berlin"}
    # 01:15 UTC is 02:15 CET, the second pass through 02:xx: 02:30 has been run (00:30 UTC).
    assert runs(raw, utc(2026, 10, 25, 1, 15), 2) == [
        utc(2026, 10, 25, 2, 0),  # 03:00 CET
        utc(2026, 10, 25, 2, 30),
    ]


def test_cron_missed_runs_collapse_into_one() -> None:
    schedule = parse_schedule({"method": "cron", "cron": "* * * * *"})
    # Down for three hours: the run made now is one; the next is the next minute.
    assert next_run(schedule, utc(2026, 1, 1, 3, 0, 20), anchor=CREATED) == utc(2026, 1, 1, 3, 1)


def test_cron_extra_whitespace_is_normalised() -> None:
    assert parse_schedule({"method": "cron", "cron": " 0  9 * * * "}).cron == "0 9 * * *"


# -- invalid configurations: 422s naming what is wrong -------------------------------------


@pytest.mark.parametrize(
    ("raw", "loc", "message"),
    [
        ("every minute", [], "must be an object"),
        ({"method": "weekly"}, ["method"], "unknown method 'weekly'"),
        ({}, ["method"], "unknown method None"),
        ({"method": "cron", "cron": "61 * * * *"}, ["cron"], "invalid cron expression"),
        ({"method": "cron", "cron": "0 0 30 2 *"}, ["cron"], "invalid cron expression"),
        ({"method": "cron", "cron": "* * * *"}, ["cron"], "5 fields, or 6"),
        ({"method": "cron", "cron": "* * * * * * *"}, ["cron"], "5 fields, or 6"),
        ({"method": "cron", "cron": "a b c d e"}, ["cron"], "invalid cron expression"),
        ({"method": "cron", "cron": 5}, ["cron"], "5 fields, or 6"),
        (
            {"method": "cron", "cron": "* * * * *", "timezone": "Mars/Olympus"},
            ["timezone"],
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            {"method": "cron", "cron": "* * * * *", "timezone": "../../etc/passwd"},
            ["timezone"],
            "unknown time zone",
        ),
        ({"method": "interval", "every": 0}, ["every"], "at least one second"),
        ({"method": "interval", "every": -5, "unit": "minutes"}, ["every"], "at least one"),
        ({"method": "interval", "every": 1.5}, ["every"], "whole number"),
        ({"method": "interval", "every": True}, ["every"], "whole number"),
        ({"method": "interval", "every": 1, "unit": "weeks"}, ["unit"], "unknown unit 'weeks'"),
        ({"method": "interval", "every": 1, "start_at": "soon"}, ["start_at"], "ISO 8601"),
        ({"method": "once", "at": "tomorrow"}, ["at"], "not an ISO 8601 datetime"),
        ({"method": "once"}, ["at"], "must be an ISO 8601 datetime"),
        ({"method": "once", "at": "2030-01-01T00:00Z", "cron": "x"}, ["cron"], "unknown key"),
        ({"method": "interval", "every": 10**30}, ["every"], "at most 100 years"),
        ({"method": "interval", "every": 40000, "unit": "days"}, ["every"], "at most 100 years"),
        (
            {"method": "once", "at": "0001-01-01T00:00", "timezone": "Asia/Tokyo"},
            ["at"],
            "out of range",
        ),
        (
            {"method": "cron", "cron": "* * * * *", "timezone": "a" * 5000},
            ["timezone"],
            "unknown time zone",
        ),
        ({"method": "cron", "cron": "H * * * *"}, ["cron"], "invalid cron expression"),
        ({"method": "cron", "cron": "*/0 * * * *"}, ["cron"], "invalid cron expression"),
    ],
)
def test_invalid_schedule_is_422_naming_the_problem(raw: object, loc: list, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_schedule(raw)
    error = caught.value
    assert error.status_code == 422
    [entry] = error.detail
    assert entry["loc"] == ["body", "schedule", *loc]
    assert message in entry["msg"]


def test_runs_end_at_the_end_of_the_calendar() -> None:
    raw = {"method": "interval", "every": 1, "unit": "days", "start_at": "9999-12-30T00:00Z"}
    assert runs(raw, utc(9999, 12, 29), 5) == [utc(9999, 12, 30), utc(9999, 12, 31)]
    cron = parse_schedule({"method": "cron", "cron": "0 0 1 1 *"})
    assert next_run(cron, utc(9999, 6, 1), anchor=CREATED) is None
