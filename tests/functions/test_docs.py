"""docs/functions.md: its complete example runs as written, over HTTP, on both dialects."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser, table_rows
from tests.functions.helpers import wait_for_output

DOC = Path(__file__).resolve().parents[2] / "docs" / "functions.md"
EXAMPLE = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)


@pytest.fixture
def function_modules() -> dict[str, str]:
    return {"notes": EXAMPLE}


def test_the_docs_example_runs_as_written(
    client: TestClient,
    admin: TestUser,
    make_user: Callable[..., TestUser],
    capfd: pytest.CaptureFixture[str],
) -> None:
    schema = {"fields": [{"name": "title", "type": "string"}]}
    created = client.post(
        "/api/collections",
        json={"name": "notes", "label": "Notes", "schema": schema},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    user = make_user()
    url = "/api/functions/add_note"

    first = client.post(url, json={"title": "Buy milk"}, headers=user.headers)
    second = client.post(url, json={"title": "Call mum"}, headers=user.headers)

    assert first.status_code == 200 and second.status_code == 200
    assert second.json()["notes_of_caller"] == 2
    rows = table_rows(client, "notes")
    assert [(row["title"], str(row["owner_id"])) for row in rows] == [
        ("Buy milk", user.id),
        ("Call mum", user.id),
    ]
    assert "add_note succeeded in " in wait_for_output(capfd, "add_note succeeded")
    refused = client.post(url, json={"title": "x", "tags": ["forbidden"]}, headers=user.headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "that tag is not allowed"
    assert client.post(url, json={"title": ""}, headers=user.headers).status_code == 422
    assert client.post(url, json={"title": "x"}).status_code == 401
