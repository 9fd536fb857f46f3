"""Scripts change while the server runs: a file of the folder added, edited and removed;
a script deployed over HTTP, versioned, rolled back, and served by another process."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, TestUser
from tinybase.api.app import create_app
from tinybase.settings import load_config

TEMPLATE = """\
# /// script
# dependencies = ["tinybase-sdk"]
# ///
from tinybase_sdk import register
from tinybase_sdk.cli import run


@register(name="{name}", auth="public")
def {name}(client) -> str:
    return "{answer}"


if __name__ == "__main__":
    run()
"""


def script(name: str, answer: str) -> str:
    return TEMPLATE.format(name=name, answer=answer)


def eventually(check: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("the condition did not hold in time")


def answers(client: TestClient, name: str, expected: object, status: int = 200) -> bool:
    response = client.post(f"/api/functions/{name}", json={})
    return response.status_code == status and (status != 200 or response.json() == expected)


def test_folder_script_is_hot_reloaded(sdk_client: TestClient, sdk_folder: Path) -> None:
    path = sdk_folder / "reloaded.py"
    path.write_text(script("reloaded", "one"))
    eventually(lambda: sdk_client.post("/api/functions/reloaded", json={}).status_code == 503)
    response = sdk_client.post("/api/functions/reloaded", json={})
    assert response.headers["Retry-After"] == "2"
    eventually(lambda: answers(sdk_client, "reloaded", "one"))
    path.write_text(script("reloaded", "two"))
    eventually(lambda: answers(sdk_client, "reloaded", "two"))
    path.unlink()
    eventually(lambda: answers(sdk_client, "reloaded", None, status=404))


def deploy(client: TestClient, admin: TestUser, name: str, source: str, note: str = ""):
    return client.put(
        f"/api/admin/functions/{name}", json={"source": source, "note": note}, headers=admin.headers
    )


def test_deploy_versions_and_rollback(
    sdk_client: TestClient, sdk_admin: TestUser, sdk_user: TestUser, sdk_folder: Path
) -> None:
    first = deploy(sdk_client, sdk_admin, "greeter", script("greeter", "v1"), "first")
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    assert answers(sdk_client, "greeter", "v1")
    assert deploy(sdk_client, sdk_admin, "greeter", script("greeter", "v2")).json()["version"] == 2
    assert answers(sdk_client, "greeter", "v2")
    versions = sdk_client.get(
        "/api/admin/functions/greeter/versions", headers=sdk_admin.headers
    ).json()
    assert [(v["version"], v["note"]) for v in versions] == [(2, ""), (1, "first")]
    assert versions[0]["deployed_by"] == sdk_admin.id
    rolled = sdk_client.post(
        "/api/admin/functions/greeter/rollback", json={"version": 1}, headers=sdk_admin.headers
    )
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 3
    assert answers(sdk_client, "greeter", "v1")

    # Another process sharing the database serves the newest version within seconds.
    other = load_config(
        db_url=sdk_client.app.state.tinybase.config.db_url,
        functions_path=str(sdk_folder.parent / "other-functions"),
        function_deploy_poll_seconds=0.5,
        **FAST_TEST_CONFIG,
    )
    with TestClient(create_app(other)) as second:
        eventually(lambda: answers(second, "greeter", "v1"))
        assert deploy(sdk_client, sdk_admin, "greeter", script("greeter", "v4")).status_code == 200
        eventually(lambda: answers(second, "greeter", "v4"), seconds=20)
        removed = sdk_client.delete("/api/admin/functions/greeter", headers=sdk_admin.headers)
        assert removed.status_code == 200
        assert answers(sdk_client, "greeter", None, status=404)
        eventually(lambda: answers(second, "greeter", None, status=404), seconds=20)


def test_bad_deploys_are_refused(
    sdk_client: TestClient, sdk_admin: TestUser, sdk_user: TestUser
) -> None:
    source = script("refused", "x")
    assert deploy(sdk_client, sdk_user, "refused", source).status_code == 403
    assert (
        sdk_client.put("/api/admin/functions/refused", json={"source": source}).status_code == 401
    )
    cases = {
        "def broken(:\n": "line 1",
        "print('no metadata')\n": "no '# /// script' metadata block",
        script("other_name", "x"): "the script registers 'other_name', not 'refused'",
        source.replace('"tinybase-sdk"', '"six"'): "must name 'tinybase-sdk'",
        source + "\nraise SystemExit(3)\n": "SystemExit",
    }
    for text, message in cases.items():
        response = deploy(sdk_client, sdk_admin, "refused", text)
        assert response.status_code == 422, (text, response.text)
        assert message in response.json()["detail"][0]["msg"], response.text
    assert deploy(sdk_client, sdk_admin, "bad name!", source).status_code == 422
    taken = deploy(sdk_client, sdk_admin, "probe", script("probe", "x"))
    assert taken.status_code == 409
    assert "is a script of" in taken.json()["detail"]
    missing = sdk_client.post(
        "/api/admin/functions/refused/rollback", json={"version": 1}, headers=sdk_admin.headers
    )
    assert missing.status_code == 404
