"""Realtime events of records with file fields show the files as reads do: the stored
object's ``id`` (internal, never shown to clients) stays on the server."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.realtime.conftest import Instance
from tests.realtime.helpers import sse

CORE = "/api/collections"


@pytest.fixture(scope="module")
def papers(instance: Instance) -> str:
    owner = {op: "owner" for op in ("list", "read", "create", "update", "delete")}
    fields = [
        {"name": "title", "type": "string"},
        {"name": "attachment", "type": "file"},
        {"name": "pages", "type": "files"},
    ]
    body = {"name": "papers", "schema": {"fields": fields}, "options": {"access": owner}}
    response = httpx.post(f"{instance.base}{CORE}", json=body, headers=instance.admin.headers)
    assert response.status_code == 201, response.text
    return "papers"


def _upload(data: bytes, filename: str) -> dict[str, str]:
    return {"filename": filename, "data": base64.b64encode(data).decode()}


def test_an_event_of_a_record_with_files_hides_the_object_ids(
    http: httpx.Client, instance: Instance, papers: str
) -> None:
    alice = instance.alice
    with sse(http, "/api/realtime") as reader:
        connect = reader.next()
        body = {"client_id": connect["client_id"], "subscriptions": [papers]}
        assert http.post("/api/realtime", json=body, headers=alice.headers).status_code == 204
        data = {
            "title": "t",
            "attachment": _upload(b"hello", "a.txt"),
            "pages": [_upload(b"one", "1.txt"), _upload(b"two", "2.txt")],
        }
        created = http.post(f"{CORE}/{papers}/records", json={"data": data}, headers=alice.headers)
        assert created.status_code == 201, created.text
        event = reader.next()
    assert event["action"] == "create"
    shown = event["record"]["data"]
    assert shown == created.json()["data"]
    assert set(shown["attachment"]) == {"filename", "original_filename", "mime_type"}
    assert [set(page) for page in shown["pages"]] == [
        {"filename", "original_filename", "mime_type"}
    ] * 2
