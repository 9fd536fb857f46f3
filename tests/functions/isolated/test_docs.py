"""docs/functions.md: its isolated-function example runs as written, over HTTP."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.helpers import TestUser
from tests.functions.isolated.conftest import wait_until_settled
from tests.functions.isolated.test_calls import latest_call

DOC = Path(__file__).resolve().parents[3] / "docs" / "functions.md"
EXAMPLE = next(
    block
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    if block.startswith("# /// script")
)


def test_the_isolated_example_runs_as_written(
    sdk_client: TestClient, sdk_folder: Path, sdk_admin: TestUser, sdk_user: TestUser
) -> None:
    schema = {"fields": [{"name": "title", "type": "string"}]}
    options = {"access": {"create": "auth", "read": "owner", "list": "owner"}}
    created = sdk_client.post(
        "/api/collections",
        json={"name": "shouts", "label": "Shouts", "schema": schema, "options": options},
        headers=sdk_admin.headers,
    )
    assert created.status_code == 201, created.text
    (sdk_folder / "shout.py").write_text(EXAMPLE.replace("collections/notes", "collections/shouts"))
    isolated = sdk_client.app.state.tinybase.functions.isolated
    deadline = time.monotonic() + 10
    while "shout" not in {e["name"] for e in isolated.listing()} and time.monotonic() < deadline:
        time.sleep(0.1)
    wait_until_settled(sdk_client)
    response = sdk_client.post(
        "/api/functions/shout", json={"text": "hi"}, headers=sdk_user.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["shouted"] == "HI"
    record = sdk_client.get(
        f"/api/collections/shouts/records/{body['note_id']}", headers=sdk_user.headers
    )
    assert record.json()["owner_id"] == sdk_user.id
    assert "shouting hi" in latest_call(sdk_client, sdk_admin, "shout")["output"]
    quiet = sdk_client.post(
        "/api/functions/shout", json={"text": "quiet"}, headers=sdk_user.headers
    )
    assert quiet.status_code == 409
    assert (
        sdk_client.post(
            "/api/functions/shout", json={"text": ""}, headers=sdk_user.headers
        ).status_code
        == 422
    )
