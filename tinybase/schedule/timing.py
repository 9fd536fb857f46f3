"""Schedule maths: parse the three methods and compute when each runs next, in UTC.

Pure functions of the schedule and a given instant: nothing here reads a clock, so tests drive
them with any time they like.

    {"method": "once", "at": "2026-05-01T09:00", "timezone": "Europe/Berlin"}
    {"method": "interval", "every": 10, "unit": "minutes", "start_at": "2026-05-01T00:00Z"}
    {"method": "cron", "cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}

Rules (``docs/schedules.md`` explains them for users):

- Runs are slots computed from the schedule alone, never from when the last run happened:
  an interval's slots are ``anchor + k * every`` (the anchor is ``start_at``, else the
  schedule's creation time), so late runs do not make the next ones drift.
- :func:`next_run` gives the first slot strictly after an instant. The scheduler asks it for
  the slot after *now* once a run is claimed, so the slots missed during a downtime collapse
  into the one run that is made late.
- Cron expressions match local wall-clock times in the schedule's zone (IANA, default UTC);
  five fields, or six with seconds first. A local time that does not exist (the hour skipped
  when clocks go forward) runs at the end of the gap, the first instant that exists (03:00
  in Europe/Berlin); several such times collapse into that one run. A local time that
  happens twice (the hour repeated when clocks go back) runs once, at its first occurrence
  (the earlier UTC instant, summer time). Neither twice nor never.
- Intervals are elapsed time (``every: 1, unit: days`` is 86 400 s, whatever the clocks do);
  a daily run at a local time is a cron schedule.
- A naive ``once`` ``at`` (or ``start_at``) is a local time in the schedule's zone, resolved
  by the same rules; one with an offset is taken as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from tinybase.errors import ValidationError

__all__ = [
    "UNITS",
    "CronSchedule",
    "IntervalSchedule",
    "OnceSchedule",
    "Schedule",
    "next_run",
    "next_runs",
    "parse_schedule",
    "resolve_local",
]

UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
MAX_INTERVAL_SECONDS = 100 * 366 * 86400
METHODS = ("once", "interval", "cron")
_FIELD = "schedule"


@dataclass(frozen=True, slots=True)
class OnceSchedule:
    """One run at ``at`` (UTC)."""

    at: datetime
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """A run every ``seconds``, on slots counted from ``start_at`` (or the creation time)."""

    seconds: int
    start_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Runs at the local times a cron expression matches, in ``timezone``."""

    cron: str
    timezone: str = "UTC"

    @property
    def has_seconds(self) -> bool:
        return len(self.cron.split()) == 6


Schedule = OnceSchedule | IntervalSchedule | CronSchedule


def _invalid(message: str, *loc: str) -> ValidationError:
    return ValidationError([{"loc": ["body", _FIELD, *loc], "msg": message, "type": "value_error"}])


def parse_schedule(raw: object) -> Schedule:
    """The schedule a JSON object describes (see the module docstring).

    Raises:
        ValidationError: naming what is wrong: not an object, an unknown method, a missing
            or unknown key, a bad cron expression, an unknown time zone, an interval below
            one second, a datetime that does not parse.
    """
    if not isinstance(raw, Mapping):
        raise _invalid("must be an object with a 'method'")
    method = raw.get("method")
    if method not in METHODS:
        raise _invalid(f"unknown method {method!r}: use one of {', '.join(METHODS)}", "method")
    allowed = {"once": {"at", "timezone"}, "interval": {"every", "unit", "start_at"}}.get(
        method, {"cron", "timezone"}
    )
    unknown = sorted(set(raw) - allowed - {"method"})
    if unknown:
        raise _invalid(f"unknown key(s) for method {method!r}: {', '.join(unknown)}", unknown[0])
    if method == "once":
        zone = _zone(raw.get("timezone", "UTC"))
        return OnceSchedule(at=_instant(raw.get("at"), zone, "at"), timezone=zone.key)
    if method == "interval":
        return _interval(raw)
    return _cron(raw)


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise _invalid("must be an IANA time zone name such as 'Europe/Berlin'", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long
        raise _invalid(f"unknown time zone {name!r}", "timezone") from exc


def _instant(value: object, zone: ZoneInfo, key: str) -> datetime:
    """An ISO datetime as UTC; a naive one is a local time in ``zone``."""
    if not isinstance(value, str):
        raise _invalid("must be an ISO 8601 datetime", key)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _invalid(f"not an ISO 8601 datetime: {value!r}", key) from exc
    try:
        if parsed.tzinfo is None:
            return resolve_local(parsed, zone)
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 shifted by an offset
        raise _invalid(f"out of range: {value!r}", key) from exc


def _interval(raw: Mapping[str, Any]) -> IntervalSchedule:
    every, unit = raw.get("every"), raw.get("unit", "seconds")
    if unit not in UNITS:
        raise _invalid(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}", "unit")
    if isinstance(every, bool) or not isinstance(every, int):
        raise _invalid("must be a whole number", "every")
    seconds = every * UNITS[unit]
    if seconds < 1:
        raise _invalid("an interval must be at least one second", "every")
    if seconds > MAX_INTERVAL_SECONDS:
        raise _invalid("an interval must be at most 100 years", "every")
    start = raw.get("start_at")
    start_at = None if start is None else _instant(start, ZoneInfo("UTC"), "start_at")
    return IntervalSchedule(seconds=seconds, start_at=start_at)


def _cron(raw: Mapping[str, Any]) -> CronSchedule:
    zone = _zone(raw.get("timezone", "UTC"))
    expression = raw.get("cron")
    if not isinstance(expression, str) or len(expression.split()) not in (5, 6):
        raise _invalid("must be a cron expression of 5 fields, or 6 with seconds first", "cron")
    expression = " ".join(expression.split())
    schedule = CronSchedule(cron=expression, timezone=zone.key)
    try:
        # Also catches expressions that parse but never match (February 30th).
        next(_matches(schedule, datetime(2000, 1, 1)))
    except (CroniterError, ValueError, KeyError) as exc:
        raise _invalid(f"invalid cron expression {expression!r}: {exc}", "cron") from exc
    return schedule


def resolve_local(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall-clock time ``local`` in ``zone``.

    A time in a skipped hour becomes the end of the gap; a time in a repeated hour, its first
    occurrence (see the module docstring).
    """
    first = local.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local:
        return utc  # it exists (fold=0 is the first of two occurrences)
    return _gap_end(local, zone)


def _gap_end(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump over ``local``: the offset changes between the two
    readings PEP 495 gives a skipped time; a binary search to the second finds where."""
    low = local.replace(tzinfo=zone, fold=1).astimezone(UTC)  # the new offset: earlier
    high = local.replace(tzinfo=zone, fold=0).astimezone(UTC)  # the old offset: later
    if low > high:
        low, high = high, low
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def _matches(schedule: CronSchedule, local_start: datetime) -> Any:
    """The local wall-clock times the expression matches, strictly after ``local_start``."""
    iterator = croniter(
        schedule.cron,
        local_start,
        second_at_beginning=schedule.has_seconds,
        max_years_between_matches=8,
    )
    while True:
        yield iterator.get_next(datetime)


def next_run(schedule: Schedule, after: datetime, *, anchor: datetime) -> datetime | None:
    """The first run strictly after ``after`` (UTC), or None when there is none (a ``once``
    whose time has come and gone).

    Args:
        schedule: what :func:`parse_schedule` returned.
        after: an aware instant (any zone).
        anchor: where an interval without ``start_at`` counts from (its creation time).
    """
    after = after.astimezone(UTC)
    if isinstance(schedule, OnceSchedule):
        return schedule.at if schedule.at > after else None
    try:
        if isinstance(schedule, IntervalSchedule):
            return _next_interval(schedule, after, anchor.astimezone(UTC))
        return _next_cron(schedule, after)
    except (OverflowError, ValueError, CroniterError):  # past the year 9999: no more runs
        return None


def _next_interval(schedule: IntervalSchedule, after: datetime, anchor: datetime) -> datetime:
    start = schedule.start_at
    if start is None:
        start = anchor + timedelta(seconds=schedule.seconds)
    if start > after:
        return start
    period = timedelta(seconds=schedule.seconds)
    slots = (after - start) // period + 1
    return start + slots * period


def _next_cron(schedule: CronSchedule, after: datetime) -> datetime:
    zone = ZoneInfo(schedule.timezone)
    local_after = after.astimezone(zone).replace(tzinfo=None, microsecond=0)
    for local in _matches(schedule, local_after):
        # In a repeated hour the local clock has passed these times once already: their
        # first occurrence lies before ``after``, so they are skipped, not run twice.
        instant = resolve_local(local, zone)
        if instant > after:
            return instant
    raise AssertionError("unreachable: _matches is endless")  # pragma: no cover


def next_runs(
    schedule: Schedule, after: datetime, *, anchor: datetime, count: int
) -> list[datetime]:
    """The next ``count`` runs strictly after ``after`` (fewer for a ``once``)."""
    runs: list[datetime] = []
    moment: datetime | None = after
    while len(runs) < count:
        moment = next_run(schedule, moment, anchor=anchor)
        if moment is None:
            break
        runs.append(moment)
    return runs
