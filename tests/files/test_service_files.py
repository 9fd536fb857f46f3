"""File fields through ``CollectionService`` (the Python API), the storage check endpoint,
the orphan sweep and the write-only S3 secret."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import CORE, TestUser, make_collection
from tests.files.conftest import object_keys, wait_until_gone
from tinybase.collections.service import CollectionService
from tinybase.records.file_columns import UploadInput
from tinybase.settings import SECRET_MASK
from tinybase.storage import ObjectStore

FIELDS = [
    {"name": "title", "type": "string"},
    {"name": "doc", "type": "file"},
    {"name": "pages", "type": "files", "max_size": 100},
]
ACCESS = {"create": "auth", "read": "owner", "list": "owner", "update": "owner", "delete": "owner"}


def test_collection_service_stores_replaces_and_deletes_files(
    files_client: TestClient, admin: TestUser, store: ObjectStore
) -> None:
    make_collection(files_client, admin, "papers", FIELDS, ACCESS)
    state = files_client.app.state.tinybase
    with state.session() as session:
        service = CollectionService(session)
        papers = service.get_collection_by_name("papers")
        assert papers is not None
        record = service.create_record(
            papers,
            {"title": "p", "doc": UploadInput(io.BytesIO(b"%PDF-1.7\n"), "paper.pdf")},
            owner_id=admin.id,
        )
        assert record.data["doc"]["mime_type"] == "application/pdf"
        assert "id" not in record.data["doc"]
        first = object_keys(store, "papers/")
        assert len(first) == 1
        download = files_client.get(
            f"{CORE}/papers/records/{record.id}/files/doc", headers=admin.headers
        )
        assert download.content == b"%PDF-1.7\n"
        encoded = base64.b64encode(b"v2").decode()
        updated = service.update_record(
            papers, record, {"doc": {"filename": "v2.txt", "data": encoded}}
        )
        assert updated.data["doc"]["original_filename"] == "v2.txt"
        wait_until_gone(store, first)
        too_big = UploadInput(io.BytesIO(b"x" * 101), "big.txt")
        try:
            service.update_record(papers, record, {"pages": [too_big]})
            raise AssertionError("a file over max_size was stored")
        except Exception as exc:  # the domain error, as Python callers see it
            assert getattr(exc, "status_code", None) == 413
        assert len(object_keys(store, "papers/")) == 1
        service.delete_record(updated)
        wait_until_gone(store, object_keys(store, "papers/"))


def test_storage_check_endpoint(
    files_client: TestClient, admin: TestUser, make_user: Any, backend: str
) -> None:
    response = files_client.post("/api/admin/settings/storage/check", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "backend": backend, "detail": None}
    user = make_user()
    denied = files_client.post("/api/admin/settings/storage/check", headers=user.headers)
    assert denied.status_code == 403
    assert files_client.post("/api/admin/settings/storage/check").status_code == 401
    if backend == "s3":
        broken = files_client.patch(
            "/api/admin/settings",
            json={"storage": {"s3_secret_access_key": "a-wrong-secret"}},
            headers=admin.headers,
        )
        assert broken.status_code == 200
        assert broken.json()["storage"]["s3_secret_access_key"] == SECRET_MASK
        check = files_client.post("/api/admin/settings/storage/check", headers=admin.headers)
        assert check.status_code == 200
        body = check.json()
        assert body["ok"] is False and "tinybase-test" in body["detail"]  # the bucket
        assert "a-wrong-secret" not in check.text
        make_collection(files_client, admin, "papers", FIELDS, ACCESS)
        refused = files_client.post(
            f"{CORE}/papers/records",
            json={"data": {"doc": {"filename": "a.txt", "data": "YQ=="}}},
            headers=admin.headers,
        )
        assert refused.status_code == 503
        assert refused.json() == {"detail": "file storage is unavailable"}
        files_client.patch(
            "/api/admin/settings",
            json={"storage": {"s3_endpoint_url": "not a url"}},
            headers=admin.headers,
        )
        check = files_client.post("/api/admin/settings/storage/check", headers=admin.headers)
        assert check.json()["ok"] is False and "not usable" in check.json()["detail"]


def test_orphan_sweep_removes_unreferenced_objects_only(
    files_client: TestClient, admin: TestUser, store: ObjectStore
) -> None:
    make_collection(files_client, admin, "papers", FIELDS, ACCESS)
    created = files_client.post(
        f"{CORE}/papers/records",
        json={"data": {"doc": {"filename": "kept.txt", "data": base64.b64encode(b"k").decode()}}},
        headers=admin.headers,
    )
    assert created.status_code == 201
    kept = object_keys(store, "papers/")
    orphan = "papers/doc/11111111-1111-4111-8111-111111111111"
    store.put(orphan, io.BytesIO(b"orphan"))
    thumb = "_thumbs/papers/doc/22222222-2222-4222-8222-222222222222/10x10_fit"
    store.put(thumb, io.BytesIO(b"thumb of nothing"))
    cleanup = files_client.app.state.tinybase.file_cleanup
    tables = files_client.app.state.tinybase.record_apis.file_tables()
    assert tables == ["papers"]
    assert cleanup.sweep(tables) == 1  # the thumbnail: the orphan is within its grace period
    assert orphan in object_keys(store)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert cleanup.sweep(tables, now=later) == 1
    assert object_keys(store, "papers/") == kept
