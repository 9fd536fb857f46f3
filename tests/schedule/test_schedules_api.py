"""/api/admin/schedules through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import PASSWORD, TestUser, bad_tokens, login
from tinybase.api.app import create_app
from tinybase.db.models import FunctionCall, FunctionSchedule
from tinybase.settings import Config

BASE = "/api/admin/schedules"
HOURLY = {"method": "interval", "every": 1, "unit": "hours"}


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def create(client: TestClient, admin: TestUser, **body: Any) -> dict[str, Any]:
    response = client.post(BASE, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def note_body(log: Path, **extra: Any) -> dict[str, Any]:
    return {"function_name": "note", "payload": {"log": str(log)}, **extra}


def wait_for_run(client: TestClient, admin: TestUser, schedule_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        runs = client.get(f"{BASE}/{schedule_id}/runs", headers=admin.headers).json()["runs"]
        if runs and runs[0]["status"] != "running":
            return runs[0]
        time.sleep(0.05)
    raise AssertionError("the run did not end in time")


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def calls_of(client: TestClient, schedule_id: str) -> list[Any]:
    table = FunctionCall.__table__
    with client.app.state.tinybase.db.read() as conn:
        return conn.execute(
            sa.select(table).where(table.c.trigger_id == schedule_id).order_by(table.c.created_at)
        ).all()


# -- create, read, list --------------------------------------------------------------------


def test_create_each_method_shows_its_next_runs(
    client: TestClient, admin: TestUser, tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    interval = create(client, admin, **note_body(tmp_path / "log"), schedule=HOURLY)
    first = parse(interval["next_run_at"])
    assert before + timedelta(hours=1) <= first <= datetime.now(UTC) + timedelta(hours=1)
    assert [parse(t) for t in interval["next_runs"]] == [
        first + timedelta(hours=k) for k in range(5)
    ]
    assert interval["enabled"] is True
    assert interval["run_as"] is None
    assert interval["schedule"] == HOURLY

    cron = create(
        client,
        admin,
        **note_body(tmp_path / "log"),
        schedule={"method": "cron", "cron": "0 9 * * *", "timezone": "Europe/Berlin"},
    )
    assert len(cron["next_runs"]) == 5
    for moment in cron["next_runs"]:
        local = parse(moment).astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (9, 0)

    at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    once = create(
        client,
        admin,
        **note_body(tmp_path / "log"),
        schedule={"method": "once", "at": at.isoformat()},
    )
    assert [parse(t) for t in once["next_runs"]] == [at]

    # The row is in the table as shown.
    table = FunctionSchedule.__table__
    with client.app.state.tinybase.db.read() as conn:
        stored = conn.execute(sa.select(table).where(table.c.id == once["id"])).one()
    assert stored.next_run_at == at
    assert stored.function_name == "note"


def test_list_pages_with_a_cursor(client: TestClient, admin: TestUser, tmp_path: Path) -> None:
    ids = [create(client, admin, **note_body(tmp_path / "l"), schedule=HOURLY)["id"] for _ in "abc"]
    first = client.get(BASE, params={"limit": 2}, headers=admin.headers).json()
    assert [s["id"] for s in first["schedules"]] == ids[:2]
    assert first["cursor"] == ids[1]
    assert all(len(s["next_runs"]) == 5 for s in first["schedules"])
    second = client.get(
        BASE, params={"limit": 2, "cursor": first["cursor"]}, headers=admin.headers
    ).json()
    assert [s["id"] for s in second["schedules"]] == ids[2:]
    assert second["cursor"] is None
    bad = client.get(BASE, params={"cursor": "nope"}, headers=admin.headers)
    assert bad.status_code == 400
    assert bad.json() == {"detail": "Invalid cursor"}


def test_read_unknown_or_malformed_id_is_404(client: TestClient, admin: TestUser) -> None:
    for key in ("0190a1b2-0000-7000-8000-000000000000", "not-an-id"):
        for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/runs")):
            kwargs = {"json": {}} if method == "PATCH" else {}
            response = client.request(
                method, f"{BASE}/{key}{path}", headers=admin.headers, **kwargs
            )
            assert response.status_code == 404, (method, path, response.text)
            assert response.json() == {"detail": "Schedule not found"}
        response = client.post(f"{BASE}/{key}/run", headers=admin.headers)
        assert response.status_code == 404


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        ({"schedule": {"method": "weekly"}}, ["schedule", "method"], "unknown method 'weekly'"),
        (
            {"schedule": {"method": "cron", "cron": "99 * * * *"}},
            ["schedule", "cron"],
            "invalid cron",
        ),
        (
            {"schedule": {"method": "cron", "cron": "* * * * *", "timezone": "Nowhere/City"}},
            ["schedule", "timezone"],
            "unknown time zone 'Nowhere/City'",
        ),
        ({"schedule": {"method": "interval", "every": 0}}, ["schedule", "every"], "at least one"),
        (
            {"schedule": {"method": "once", "at": "2020-01-01T00:00:00Z"}},
            ["schedule", "at"],
            "is in the past",
        ),
        ({"function_name": "nothing_here"}, ["function_name"], "unknown function 'nothing_here'"),
        ({"payload": {"label": "no log"}}, ["payload", "log"], "Field required"),
        ({"payload": {"log": 5}}, ["payload", "log"], "valid string"),
        ({"run_as": "not-a-user"}, ["run_as"], "unknown user"),
        (
            {"run_as": "0190a1b2-0000-7000-8000-000000000000"},
            ["run_as"],
            "unknown user",
        ),
    ],
)
def test_invalid_schedule_is_422_naming_the_field(
    client: TestClient,
    admin: TestUser,
    tmp_path: Path,
    change: dict[str, Any],
    loc: list[str],
    message: str,
) -> None:
    body = {**note_body(tmp_path / "log"), "schedule": HOURLY, **change}
    response = client.post(BASE, json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", *loc]
    assert message in error["msg"]
    # Nothing was written.
    listing = client.get(BASE, headers=admin.headers).json()
    assert listing["schedules"] == []

    # The same checks guard a change of an existing schedule.
    existing = create(client, admin, **note_body(tmp_path / "log"), schedule=HOURLY)
    patched = client.patch(f"{BASE}/{existing['id']}", json=change, headers=admin.headers)
    assert patched.status_code == 422, patched.text
    assert client.get(f"{BASE}/{existing['id']}", headers=admin.headers).json() == existing


def test_unknown_field_and_null_are_422(
    client: TestClient, admin: TestUser, tmp_path: Path
) -> None:
    body = {**note_body(tmp_path / "log"), "schedule": HOURLY, "every": 5}
    assert client.post(BASE, json=body, headers=admin.headers).status_code == 422
    existing = create(client, admin, **note_body(tmp_path / "log"), schedule=HOURLY)
    for field in ("schedule", "function_name", "payload", "enabled"):
        response = client.patch(
            f"{BASE}/{existing['id']}", json={field: None}, headers=admin.headers
        )
        assert response.status_code == 422, field
        assert response.json()["detail"][0]["loc"] == ["body", field]


# -- change, enable, disable, delete -------------------------------------------------------


def test_disable_and_enable_recompute_the_next_run(
    client: TestClient, admin: TestUser, tmp_path: Path
) -> None:
    schedule = create(client, admin, **note_body(tmp_path / "log"), schedule=HOURLY)
    path = f"{BASE}/{schedule['id']}"
    off = client.patch(path, json={"enabled": False}, headers=admin.headers).json()
    assert off["enabled"] is False
    assert off["next_run_at"] is None
    assert off["next_runs"] == []
    on = client.patch(path, json={"enabled": True}, headers=admin.headers).json()
    assert on["next_run_at"] == schedule["next_run_at"]  # the slots count from creation
    changed = client.patch(
        path,
        json={"schedule": {"method": "cron", "cron": "0 0 1 1 *"}},
        headers=admin.headers,
    ).json()
    assert parse(changed["next_run_at"]) == datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    assert changed["updated_at"] > schedule["updated_at"]


def test_enabling_a_past_once_is_422(client: TestClient, admin: TestUser, tmp_path: Path) -> None:
    at = datetime.now(UTC) + timedelta(seconds=1)
    schedule = create(
        client,
        admin,
        **note_body(tmp_path / "log"),
        enabled=False,
        schedule={"method": "once", "at": at.isoformat()},
    )
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.05)
    response = client.patch(
        f"{BASE}/{schedule['id']}", json={"enabled": True}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "schedule", "at"]


def test_delete_removes_it(client: TestClient, admin: TestUser, tmp_path: Path) -> None:
    schedule = create(client, admin, **note_body(tmp_path / "log"), schedule=HOURLY)
    response = client.delete(f"{BASE}/{schedule['id']}", headers=admin.headers)
    assert response.status_code == 204
    assert client.get(f"{BASE}/{schedule['id']}", headers=admin.headers).status_code == 404
    assert client.delete(f"{BASE}/{schedule['id']}", headers=admin.headers).status_code == 404


# -- running -------------------------------------------------------------------------------


def test_run_now_is_a_function_call_with_the_schedule_as_trigger(
    client: TestClient, admin: TestUser, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    schedule = create(client, admin, **note_body(log), schedule=HOURLY)
    response = client.post(f"{BASE}/{schedule['id']}/run", headers=admin.headers)
    assert response.status_code == 202
    assert response.json()["schedule_id"] == schedule["id"]
    run = wait_for_run(client, admin, schedule["id"])
    assert run["id"] == response.json()["run_id"]
    assert (run["status"], run["trigger"], run["attempt"], run["error"]) == (
        "succeeded",
        "manual",
        1,
        None,
    )
    # The function saw a scheduled call, as the system identity (admin, no user).
    assert lines(log) == [
        {
            "label": "",
            "trigger_type": "schedule",
            "trigger_id": schedule["id"],
            "user_id": None,
            "is_admin": True,
            "at": lines(log)[0]["at"],
        }
    ]
    [call] = calls_of(client, schedule["id"])
    assert (call.function_name, call.trigger_type, call.status) == ("note", "schedule", "succeeded")
    assert call.user_id is None
    deadline = time.monotonic() + 5
    while len(lines(tmp_path / "hooks.log")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lines(tmp_path / "hooks.log") == [
        {"hook": "call", "name": "note"},
        {"hook": "complete", "status": "succeeded"},
    ]
    # The schedule's own next run is untouched by a run made now.
    after = client.get(f"{BASE}/{schedule['id']}", headers=admin.headers).json()
    assert after["next_run_at"] == schedule["next_run_at"]
    assert after["last_run_at"] is not None


def test_run_as_user_runs_with_that_users_rights(
    client: TestClient, admin: TestUser, user: TestUser, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    mine = create(client, admin, **note_body(log), schedule=HOURLY, run_as=user.id)
    assert mine["run_as"] == user.id
    client.post(f"{BASE}/{mine['id']}/run", headers=admin.headers)
    assert wait_for_run(client, admin, mine["id"])["status"] == "succeeded"
    [entry] = lines(log)
    assert (entry["user_id"], entry["is_admin"]) == (user.id, False)
    [call] = calls_of(client, mine["id"])
    assert str(call.user_id) == user.id

    # An admin-only function run as a normal user is refused: the run fails, nothing ran.
    admin_log = tmp_path / "admin-log"
    refused = create(
        client,
        admin,
        function_name="admin_note",
        payload={"log": str(admin_log)},
        schedule=HOURLY,
        run_as=user.id,
    )
    client.post(f"{BASE}/{refused['id']}/run", headers=admin.headers)
    run = wait_for_run(client, admin, refused["id"])
    assert run["status"] == "failed"
    assert "PermissionDeniedError" in run["error"]
    assert lines(admin_log) == []


def test_failing_function_is_a_failed_run_and_call(client: TestClient, admin: TestUser) -> None:
    schedule = create(client, admin, function_name="boom", schedule=HOURLY)
    client.post(f"{BASE}/{schedule['id']}/run", headers=admin.headers)
    run = wait_for_run(client, admin, schedule["id"])
    assert run["status"] == "failed"
    assert run["error"].startswith("RuntimeError")
    [call] = calls_of(client, schedule["id"])
    assert (call.status, call.error_type) == ("failed", "RuntimeError")


def create_once_soon(
    client: TestClient, admin: TestUser, body: dict[str, Any]
) -> tuple[dict[str, Any], datetime]:
    """A ``once`` schedule two seconds ahead, and its instant.

    On a loaded machine the request can reach the server after that instant (a 422, "in the
    past"); then it is asked again, a few times, with a new instant.
    """
    for _ in range(5):
        at = datetime.now(UTC) + timedelta(seconds=2)
        response = client.post(
            BASE,
            json={**body, "schedule": {"method": "once", "at": at.isoformat()}},
            headers=admin.headers,
        )
        if response.status_code != 422:
            break
        assert "is in the past" in response.text
    assert response.status_code == 201, response.text
    return response.json(), at


def test_due_schedule_runs_from_the_loop_and_once_disables_itself(
    client: TestClient, admin: TestUser, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    schedule, at = create_once_soon(client, admin, note_body(log))
    run = wait_for_run(client, admin, schedule["id"])
    assert (run["status"], run["trigger"]) == ("succeeded", "schedule")
    assert parse(run["slot"]) == at
    after = client.get(f"{BASE}/{schedule['id']}", headers=admin.headers).json()
    assert (after["enabled"], after["next_run_at"], after["next_runs"]) == (False, None, [])
    assert [entry["trigger_id"] for entry in lines(log)] == [schedule["id"]]


# -- who may -------------------------------------------------------------------------------


ROUTES = [
    ("GET", ""),
    ("POST", ""),
    ("GET", "/{id}"),
    ("PATCH", "/{id}"),
    ("DELETE", "/{id}"),
    ("POST", "/{id}/run"),
    ("GET", "/{id}/runs"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_only_admins_reach_schedules(
    client: TestClient, admin: TestUser, user: TestUser, tmp_path: Path, method: str, path: str
) -> None:
    schedule = create(client, admin, **note_body(tmp_path / "log"), schedule=HOURLY)
    url = BASE + path.format(id=schedule["id"])
    body = {"json": {**note_body(tmp_path / "x"), "schedule": HOURLY}} if method == "POST" else {}
    if method == "PATCH":
        body = {"json": {"enabled": False}}
    attackers: dict[str, dict[str, str]] = {"anonymous": {}}
    attackers |= {
        name: {"Authorization": f"Bearer {token}"}
        for name, token in bad_tokens(client, user).items()
    }
    for name, headers in attackers.items():
        response = client.request(method, url, headers=headers, **body)
        assert response.status_code == 401, (name, response.text)
    response = client.request(method, url, headers=user.headers, **body)
    assert response.status_code == 403
    assert response.json() == {"detail": "Admin access required"}
    # Nothing changed, nothing ran.
    assert client.get(f"{BASE}/{schedule['id']}", headers=admin.headers).json() == schedule
    assert client.get(BASE, headers=admin.headers).json()["schedules"] == [schedule]
    assert not (tmp_path / "log").exists()


def test_missed_runs_after_downtime_collapse_into_one(
    client: TestClient, admin: TestUser, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    schedule = create(
        client,
        admin,
        **note_body(log),
        schedule={
            "method": "interval",
            "every": 1,
            "unit": "minutes",
            "start_at": start.isoformat(),
        },
    )
    # As if the instance had been down for three hours: 180 slots were missed.
    table = FunctionSchedule.__table__
    with client.app.state.tinybase.db.write() as conn:
        conn.execute(sa.update(table).where(table.c.id == schedule["id"]).values(next_run_at=start))
    run = wait_for_run(client, admin, schedule["id"])
    assert (run["status"], parse(run["slot"])) == ("succeeded", start)
    after = client.get(f"{BASE}/{schedule['id']}", headers=admin.headers).json()
    following = parse(after["next_run_at"])
    now = datetime.now(UTC)
    assert now < following <= now + timedelta(minutes=1)
    assert (following - start) % timedelta(minutes=1) == timedelta(0)  # still on its grid
    time.sleep(0.5)  # nothing else is due: no second catch-up run
    assert (
        len(client.get(f"{BASE}/{schedule['id']}/runs", headers=admin.headers).json()["runs"]) == 1
    )
    assert len(lines(log)) == 1


@pytest.fixture
def idle_client(schedule_config: Config) -> Iterator[TestClient]:
    """An instance whose scheduler is disabled: it serves run-now, claims nothing due."""
    config = schedule_config.model_copy(update={"scheduler_enabled": False})
    with TestClient(create_app(config)) as test_client:
        yield test_client


def test_disabled_scheduler_runs_nothing_due_but_runs_now(
    idle_client: TestClient, tmp_path: Path
) -> None:
    email = "idle-admin@example.com"
    idle_client.app.state.tinybase.users.create_user(email=email, password=PASSWORD, is_admin=True)
    admin = login(idle_client, email)
    log = tmp_path / "log"
    at = datetime.now(UTC) + timedelta(milliseconds=300)
    schedule = create(
        idle_client, admin, **note_body(log), schedule={"method": "once", "at": at.isoformat()}
    )
    time.sleep(1.5)
    assert idle_client.get(f"{BASE}/{schedule['id']}/runs", headers=admin.headers).json() == {
        "runs": []
    }
    idle_client.post(f"{BASE}/{schedule['id']}/run", headers=admin.headers)
    assert wait_for_run(idle_client, admin, schedule["id"])["status"] == "succeeded"
    assert len(lines(log)) == 1
