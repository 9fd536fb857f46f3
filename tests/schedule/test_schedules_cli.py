"""``tinybase schedules list | add | run | enable | disable`` on a real SQLite file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tinybase.cli.main import app
from tinybase.data import database
from tinybase.db.models import FunctionCall, FunctionSchedule


@pytest.fixture
def env(sqlite_url: str, functions_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYBASE_DB_URL", sqlite_url)
    monkeypatch.setenv("TINYBASE_FUNCTIONS_PATH", str(functions_dir))
    return sqlite_url


def rows(url: str, table: sa.Table) -> list[sa.Row]:
    db = database(url)
    try:
        with db.read() as conn:
            return conn.execute(sa.select(table)).all()
    finally:
        db.engine.dispose()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_add_list_disable_enable_run(env: str, tmp_path: Path) -> None:
    log = tmp_path / "log"
    code, out = invoke(
        "schedules",
        "add",
        "note",
        "--cron",
        "0 9 * * 1-5",
        "--timezone",
        "Europe/Berlin",
        "--payload",
        json.dumps({"log": str(log), "label": "cli"}),
    )
    assert code == 0, out
    schedule_id = re.search(r"added schedule (\S+)", out).group(1)
    [stored] = rows(env, FunctionSchedule.__table__)
    assert str(stored.id) == schedule_id
    assert stored.schedule == {"method": "cron", "cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}
    assert stored.enabled is True and stored.next_run_at is not None

    code, out = invoke("schedules", "list")
    assert code == 0, out
    assert schedule_id in out and "cron 0 9 * * 1-5 (Europe/Berlin)" in out

    code, out = invoke("schedules", "disable", schedule_id)
    assert (code, f"disabled schedule {schedule_id} (next run -)" in out) == (0, True)
    assert rows(env, FunctionSchedule.__table__)[0].next_run_at is None
    code, out = invoke("schedules", "enable", schedule_id)
    assert code == 0 and f"enabled schedule {schedule_id}" in out
    assert rows(env, FunctionSchedule.__table__)[0].next_run_at == stored.next_run_at

    code, out = invoke("schedules", "run", schedule_id)
    # (Log lines of the instance may come first when logging went to the console.)
    assert (code, out.strip().splitlines()[-1]) == (0, "run succeeded")
    [entry] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (entry["label"], entry["trigger_type"], entry["trigger_id"]) == (
        "cli",
        "schedule",
        schedule_id,
    )
    [call] = rows(env, FunctionCall.__table__)
    assert (call.status, str(call.trigger_id)) == ("succeeded", schedule_id)


def test_add_refuses_bad_input_with_the_reason(env: str) -> None:
    code, out = invoke("schedules", "add", "note", "--cron", "99 * * * *", "--payload", "{}")
    assert code == 1
    assert "schedule.cron: invalid cron expression" in out
    code, out = invoke("schedules", "add", "ghost", "--every", "5", "--payload", '{"log": "x"}')
    assert code == 1 and "function_name: unknown function 'ghost'" in out
    code, out = invoke("schedules", "add", "note", "--every", "5", "--at", "2030-01-01T00:00Z")
    assert code == 2 and "exactly one of --cron, --every or --at" in out
    code, out = invoke("schedules", "add", "note", "--every", "5", "--payload", "[1]")
    assert code == 2 and "--payload must be a JSON object" in out
    code, out = invoke("schedules", "add", "note", "--every", "5", "--run-as", "no@one.example")
    assert code == 1 and "no user with the email" in out
    assert rows(env, FunctionSchedule.__table__) == []


def test_unknown_schedule_is_an_error(env: str) -> None:
    for command in ("run", "enable", "disable"):
        code, out = invoke("schedules", command, "0190a1b2-0000-7000-8000-000000000000")
        assert (code, "Schedule not found" in out) == (1, True), command
    assert invoke("schedules", "run", "nope")[0] == 1


def test_failed_run_exits_1(env: str) -> None:
    code, out = invoke("schedules", "add", "boom", "--every", "1", "--unit", "hours")
    schedule_id = re.search(r"added schedule (\S+)", out).group(1)
    code, out = invoke("schedules", "run", schedule_id)
    assert code == 1
    assert "run failed: RuntimeError" in out
