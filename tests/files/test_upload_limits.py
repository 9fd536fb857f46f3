"""The body-size limit of record writes: file uploads up to the file limit, a 413 before
the whole body is read past it (declared or streamed), and other routes keep
``server_max_body_size``."""

from __future__ import annotations

import base64

import anyio
from fastapi.testclient import TestClient

from tests.api.helpers import CORE, TestUser, make_collection

MIB = 1024 * 1024
CHUNK = 64 * 1024


def test_uploads_past_the_small_body_limit_are_accepted(
    files_client: TestClient, admin: TestUser
) -> None:
    make_collection(files_client, admin, "blobs", [{"name": "blob", "type": "file"}], {})
    three_mib = b"\x01" * (3 * MIB)  # past server_max_body_size (1 MiB), within 10 MB
    response = files_client.post(
        f"{CORE}/blobs/records",
        files=[("blob", ("b.bin", three_mib, "application/octet-stream"))],
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    other = files_client.patch(
        "/api/admin/settings", content=b"{" + b" " * (2 * MIB) + b"}", headers=admin.headers
    )
    assert other.status_code == 413  # not a record write: the 1 MiB limit stays


def test_json_uploads_past_the_small_body_limit_go_to_apis_with_file_columns(
    files_client: TestClient, admin: TestUser
) -> None:
    make_collection(files_client, admin, "blobs", [{"name": "blob", "type": "file"}], {})
    make_collection(files_client, admin, "plain", [{"name": "text", "type": "text"}], {})
    files_client.get(f"{CORE}/blobs/records", headers=admin.headers)  # the registry reloads
    two_mib = base64.b64encode(b"\x02" * (2 * MIB)).decode()
    response = files_client.post(
        f"{CORE}/blobs/records",
        json={"data": {"blob": {"filename": "b.bin", "data": two_mib}}},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    plain = files_client.post(
        f"{CORE}/plain/records", json={"data": {"text": two_mib}}, headers=admin.headers
    )
    assert plain.status_code == 413  # no file columns: server_max_body_size


def test_a_streamed_multipart_body_stops_being_read_past_the_limit(
    files_client: TestClient,
) -> None:
    """An ASGI request of 20 MiB in 64 KiB messages, no Content-Length: the app reads at most
    the limit (10 MiB as base64, plus 64 KiB) and one message more, then answers 413."""
    app = files_client.app
    total = 20 * MIB // CHUNK
    received = 0
    sent: list[dict[str, object]] = []
    head = b'--b\r\nContent-Disposition: form-data; name="blob"; filename="x"\r\n\r\n'

    async def receive() -> dict[str, object]:
        nonlocal received
        received += 1
        body = head if received == 1 else b"\0" * CHUNK
        return {"type": "http.request", "body": body, "more_body": received < total}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/records/v1/blobs",
        "raw_path": b"/api/records/v1/blobs",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=b"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "app": app,
    }
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    limit = 10 * MIB * 4 // 3 + 64 * 1024
    assert received <= limit // CHUNK + 2
    assert received < total
