"""``tinybase schedules list | add | run | enable | disable``: schedules from the shell.

Each command opens the configured instance like ``tinybase serve`` (migrations, the
functions of ``functions_path``), so names and payloads are checked as the admin API does.
``run`` runs the function in this process and waits for it; the call is recorded like any
scheduled run (``trigger_type "schedule"``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import anyio
import typer
from rich.console import Console
from rich.table import Table

from tinybase.api.startup import build_state
from tinybase.api.state import AppState
from tinybase.cli.common import error_text, read_config
from tinybase.errors import TinyBaseError

__all__ = ["app"]

app = typer.Typer(help="Manage scheduled functions.", no_args_is_help=True)


@app.callback()
def schedules() -> None:
    """Manage scheduled functions (once, interval, cron); see docs/schedules.md."""


@contextmanager
def _instance() -> Iterator[AppState]:
    """The instance's state; a TinyBase error becomes a one-line message and exit code 1."""
    state = build_state(read_config())
    try:
        yield state
    except TinyBaseError as exc:
        typer.echo(f"Error: {error_text(exc.detail)}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        state.close()


@app.command("list")
def list_schedules() -> None:
    """List every schedule with its next run (UTC)."""
    with _instance() as state:
        assert state.schedules is not None
        table = Table("id", "function", "schedule", "enabled", "next run", "last run")
        cursor: str | None = None
        while True:
            page = state.schedules.list(limit=500, cursor=cursor)
            for item in page.schedules:
                table.add_row(
                    str(item["id"]),
                    item["function_name"],
                    _describe(item["schedule"]),
                    "yes" if item["enabled"] else "no",
                    _when(item["next_run_at"]),
                    _when(item["last_run_at"]),
                )
            cursor = page.cursor
            if cursor is None:
                break
        Console(width=160).print(table)


@app.command()
def add(
    function_name: str = typer.Argument(..., help="The function to run."),
    cron: str | None = typer.Option(
        None, help="A cron expression (5 fields, or 6: seconds first)."
    ),
    every: int | None = typer.Option(None, help="Run every N units (an interval)."),
    unit: str = typer.Option("seconds", help="The interval's unit: seconds|minutes|hours|days."),
    start_at: str | None = typer.Option(None, help="An interval's first run (ISO 8601)."),
    at: str | None = typer.Option(None, help="Run once, at this ISO 8601 datetime."),
    timezone: str | None = typer.Option(None, help="IANA zone of --cron and --at (default UTC)."),
    payload: str = typer.Option("{}", help="The function's payload, as a JSON object."),
    run_as: str | None = typer.Option(None, help="Run as this user (email or id)."),
    disabled: bool = typer.Option(False, help="Add it disabled."),
) -> None:
    """Add a schedule: exactly one of --cron, --every or --at."""
    schedule = _schedule(cron=cron, every=every, unit=unit, start_at=start_at, at=at)
    if timezone is not None:
        schedule["timezone"] = timezone
    body = _payload(payload)
    with _instance() as state:
        assert state.schedules is not None
        created = state.schedules.create(
            function_name=function_name,
            schedule=schedule,
            payload=body,
            enabled=not disabled,
            run_as=_user_id(state, run_as),
        )
    typer.echo(f"added schedule {created['id']} (next run {_when(created['next_run_at'])})")


@app.command()
def run(schedule_id: str = typer.Argument(..., help="The schedule's id.")) -> None:
    """Run a schedule's function now, here, and wait for it."""
    with _instance() as state:
        assert state.scheduler is not None
        outcome = anyio.run(state.scheduler.run_and_wait, _id(schedule_id))
    if outcome is None:
        typer.echo("Error: Schedule not found", err=True)
        raise typer.Exit(code=1)
    if outcome.status != "succeeded":
        typer.echo(f"run failed: {outcome.error}", err=True)
        raise typer.Exit(code=1)
    typer.echo("run succeeded")


@app.command()
def enable(schedule_id: str = typer.Argument(..., help="The schedule's id.")) -> None:
    """Enable a schedule (its next run is computed from now)."""
    _set_enabled(schedule_id, enabled=True)


@app.command()
def disable(schedule_id: str = typer.Argument(..., help="The schedule's id.")) -> None:
    """Disable a schedule (a run going on finishes)."""
    _set_enabled(schedule_id, enabled=False)


def _set_enabled(schedule_id: str, *, enabled: bool) -> None:
    with _instance() as state:
        assert state.schedules is not None
        changed = state.schedules.update(schedule_id, enabled=enabled)
    state_word = "enabled" if enabled else "disabled"
    typer.echo(f"{state_word} schedule {changed['id']} (next run {_when(changed['next_run_at'])})")


def _schedule(
    *, cron: str | None, every: int | None, unit: str, start_at: str | None, at: str | None
) -> dict[str, Any]:
    chosen = [name for name, value in (("cron", cron), ("every", every), ("at", at)) if value]
    if len(chosen) != 1:
        typer.echo("Error: give exactly one of --cron, --every or --at", err=True)
        raise typer.Exit(code=2)
    if cron is not None:
        return {"method": "cron", "cron": cron}
    if at is not None:
        return {"method": "once", "at": at}
    interval: dict[str, Any] = {"method": "interval", "every": every, "unit": unit}
    if start_at is not None:
        interval["start_at"] = start_at
    return interval


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        typer.echo(f"Error: --payload is not JSON: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if not isinstance(value, dict):
        typer.echo("Error: --payload must be a JSON object", err=True)
        raise typer.Exit(code=2)
    return value


def _user_id(state: AppState, who: str | None) -> str | None:
    if who is None or "@" not in who:
        return who
    user = state.users.find_by_email(who)
    if user is None:
        typer.echo(f"Error: no user with the email {who!r}", err=True)
        raise typer.Exit(code=1)
    return str(user.id)


def _id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        typer.echo("Error: Schedule not found", err=True)
        raise typer.Exit(code=1) from None


def _describe(schedule: dict[str, Any]) -> str:
    method = schedule.get("method")
    zone = f" ({schedule['timezone']})" if schedule.get("timezone") else ""
    if method == "cron":
        return f"cron {schedule.get('cron')}{zone}"
    if method == "once":
        return f"once at {schedule.get('at')}{zone}"
    return f"every {schedule.get('every')} {schedule.get('unit', 'seconds')}"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")
