"""File columns of TrailBase-style record APIs (``/api/records/v1``): a TEXT column declared
``std.FileUpload`` / ``std.FileUploads`` in the API's ``file_columns``.

Upload with TrailBase's JSON input and as multipart, download through ``/file/{column}`` and
``/files/{column}/{filename}``, readable exactly when the record is. Both dialects, both
backends.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image

from tests.api.helpers import V1, TestUser, bad_tokens, create_tables, define
from tests.files.conftest import object_keys, wait_until_gone
from tinybase.storage import ObjectStore

FILE_COLUMNS = {"single_file": "std.FileUpload", "multiple_files": "std.FileUploads"}


@pytest.fixture
def tables(files_client: TestClient) -> None:
    metadata = sa.MetaData()
    sa.Table("_user", metadata, sa.Column("id", sa.String(36), primary_key=True))
    sa.Table(
        "uploads",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(36), sa.ForeignKey("_user.id"), nullable=True),
        sa.Column("name", sa.Text, unique=True, nullable=True),
        sa.Column("single_file", sa.Text, nullable=True),
        sa.Column("multiple_files", sa.Text, nullable=True),
    )
    create_tables(files_client, metadata)


@pytest.fixture
def apis(files_client: TestClient, admin: TestUser, tables: None) -> None:
    owner_rule = "_ROW_.owner = _USER_.id"
    define(
        files_client,
        admin,
        name="mine",
        table_name="uploads",
        acl_authenticated=["CREATE", "READ", "UPDATE", "DELETE"],
        read_access_rule=owner_rule,
        update_access_rule=owner_rule,
        delete_access_rule=owner_rule,
        create_access_rule="_REQ_.owner = _USER_.id",
        file_columns=FILE_COLUMNS,
    )
    define(
        files_client,
        admin,
        name="public",
        table_name="uploads",
        acl_world=["READ"],
        acl_authenticated=["CREATE", "READ"],
        file_columns=FILE_COLUMNS,
    )


def upload_input(data: bytes, filename: str, **extra: Any) -> dict[str, Any]:
    encoded = base64.urlsafe_b64encode(data).decode().rstrip("=")
    return {"name": "ignored", "filename": filename, "data": encoded, **extra}


def create(client: TestClient, user: TestUser, values: dict[str, Any], api: str = "mine") -> str:
    response = client.post(f"{V1}/{api}", json={"owner": user.id, **values}, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["ids"][0]


def test_json_upload_read_and_download(
    files_client: TestClient, apis: None, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    record_id = create(
        files_client,
        owner,
        {
            "single_file": upload_input(
                b"\x00\x01\x02\x03", "test1.bin", content_type="application/octet-stream"
            ),
            "multiple_files": [upload_input(b"first", "a.txt"), upload_input(b"second", "b.txt")],
        },
    )
    record = files_client.get(f"{V1}/mine/{record_id}", headers=owner.headers).json()
    single = record["single_file"]
    assert set(single) == {"filename", "original_filename", "content_type", "mime_type"}
    assert single["original_filename"] == "test1.bin"
    assert single["content_type"] == "application/octet-stream"
    assert single["filename"].startswith("test1_") and single["filename"].endswith(".bin")
    assert [f["original_filename"] for f in record["multiple_files"]] == ["a.txt", "b.txt"]
    listed = files_client.get(f"{V1}/mine", headers=owner.headers).json()["records"]
    assert listed[0]["single_file"] == single

    download = files_client.get(f"{V1}/mine/{record_id}/file/single_file", headers=owner.headers)
    assert download.status_code == 200 and download.content == b"\x00\x01\x02\x03"
    assert download.headers["content-disposition"].startswith("attachment")
    second = record["multiple_files"][1]["filename"]
    one = files_client.get(
        f"{V1}/mine/{record_id}/files/multiple_files/{second}", headers=owner.headers
    )
    assert one.status_code == 200 and one.content == b"second"
    alias = files_client.get(
        f"/api/v1/records/mine/{record_id}/file/single_file", headers=owner.headers
    )
    assert alias.content == b"\x00\x01\x02\x03"
    stored = files_client.app.state.tinybase.db
    with stored.read() as connection:
        raw = connection.execute(sa.text("SELECT single_file FROM uploads")).scalar_one()
    assert '"id"' in raw  # the object id is stored, never shown
    assert len(object_keys(store, "uploads/")) == 3


def test_download_follows_the_read_rule(
    files_client: TestClient, apis: None, make_user: Any
) -> None:
    owner, other = make_user(), make_user()
    record_id = create(files_client, owner, {"single_file": upload_input(b"mine", "m.txt")})
    url = f"{V1}/mine/{record_id}/file/single_file"
    assert files_client.get(url, headers=other.headers).status_code == 404
    assert files_client.get(url).status_code in (401, 403)
    for name, token in bad_tokens(files_client, owner).items():
        forged = files_client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert forged.status_code == 401, name
    public = files_client.get(f"{V1}/public/{record_id}/file/single_file")
    assert public.status_code == 200 and public.content == b"mine"  # anonymous, world-readable
    assert (
        files_client.get(f"{V1}/mine/{record_id}/file/name", headers=owner.headers).status_code
        == 400
    )
    assert (
        files_client.get(f"{V1}/mine/{record_id}/file/nope", headers=owner.headers).status_code
        == 400
    )
    missing = files_client.get(
        f"{V1}/mine/{record_id}/files/multiple_files/nothing.txt", headers=owner.headers
    )
    assert missing.status_code == 404


def test_multipart_create_and_update(
    files_client: TestClient, apis: None, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    response = files_client.post(
        f"{V1}/mine",
        data={"owner": owner.id, "name": "form"},
        files=[
            ("single_file", ("photo.txt", b"form bytes", "text/plain")),
            ("multiple_files", ("x.txt", b"x", "text/plain")),
            ("multiple_files", ("y.txt", b"y", "text/plain")),
        ],
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    record_id = response.json()["ids"][0]
    record = files_client.get(f"{V1}/mine/{record_id}", headers=owner.headers).json()
    assert record["name"] == "form"
    assert [f["original_filename"] for f in record["multiple_files"]] == ["x.txt", "y.txt"]
    before = object_keys(store, "uploads/single_file/")
    patched = files_client.patch(
        f"{V1}/mine/{record_id}",
        files=[("single_file", ("new.txt", b"new", "text/plain"))],
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    url = f"{V1}/mine/{record_id}/file/single_file"
    assert files_client.get(url, headers=owner.headers).content == b"new"
    wait_until_gone(store, before)
    # What a browser sends for a file input left empty: skipped, the file stays.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nrenamed\r\n'
        b'--b\r\nContent-Disposition: form-data; name="single_file"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n"
    )
    empty = files_client.patch(
        f"{V1}/mine/{record_id}",
        content=body,
        headers={**owner.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert empty.status_code == 200, empty.text
    assert files_client.get(url, headers=owner.headers).content == b"new"


def test_cleanup_and_failed_writes(
    files_client: TestClient, apis: None, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    first = {"name": "taken", "single_file": upload_input(b"1", "1.txt")}
    record_id = create(files_client, owner, first)
    conflict = files_client.post(
        f"{V1}/mine",
        json={"owner": owner.id, "name": "taken", "single_file": upload_input(b"2", "2.txt")},
        headers=owner.headers,
    )
    assert conflict.status_code == 409
    denied = files_client.post(  # the create rule refuses: the object must not stay
        f"{V1}/mine",
        json={"owner": make_user().id, "single_file": upload_input(b"3", "3.txt")},
        headers=owner.headers,
    )
    assert denied.status_code == 403
    keys = object_keys(store, "uploads/")
    assert len(keys) == 1
    cleared = files_client.patch(
        f"{V1}/mine/{record_id}", json={"single_file": None}, headers=owner.headers
    )
    assert cleared.status_code == 200
    wait_until_gone(store, keys)
    record_id = create(files_client, owner, {"multiple_files": [upload_input(b"m", "m.txt")]})
    keys = object_keys(store, "uploads/")
    assert files_client.delete(f"{V1}/mine/{record_id}", headers=owner.headers).status_code == 200
    wait_until_gone(store, keys)


def test_stored_metadata_cannot_be_written_by_clients(
    files_client: TestClient, apis: None, make_user: Any
) -> None:
    owner = make_user()
    forged = {"id": "00000000-0000-4000-8000-000000000000", "filename": "x.txt"}
    response = files_client.post(
        f"{V1}/mine", json={"owner": owner.id, "single_file": forged}, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "single_file"]
    text = files_client.post(
        f"{V1}/mine", json={"owner": owner.id, "single_file": "{}"}, headers=owner.headers
    )
    assert text.status_code == 422


def test_file_columns_round_trip_in_the_admin_api(
    files_client: TestClient, apis: None, admin: TestUser
) -> None:
    config = files_client.get("/api/admin/record-apis/mine", headers=admin.headers).json()
    assert config["file_columns"] == {
        "single_file": {"schema": "std.FileUpload"},
        "multiple_files": {"schema": "std.FileUploads"},
    }
    bad = files_client.post(
        "/api/admin/record-apis",
        json={"name": "bad", "table_name": "uploads", "file_columns": {"name": "std.Nope"}},
        headers=admin.headers,
    )
    assert bad.status_code == 422


def test_uploads_in_a_transaction_are_refused(
    files_client: TestClient, apis: None, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    value = {"owner": owner.id, "single_file": upload_input(b"tx", "tx.txt")}
    response = files_client.post(
        "/api/transaction/v1/execute",
        json={"operations": [{"Create": {"api_name": "mine", "value": value}}]},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert "single_file" in response.json()["detail"][0]["loc"]
    assert object_keys(store, "uploads/") == set()


def test_bulk_create_stores_each_records_files(
    files_client: TestClient, apis: None, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    records = [
        {"owner": owner.id, "single_file": upload_input(f"bulk {n}".encode(), f"{n}.txt")}
        for n in range(3)
    ]
    response = files_client.post(f"{V1}/mine", json=records, headers=owner.headers)
    assert response.status_code == 200, response.text
    ids = response.json()["ids"]
    assert len(ids) == 3 and len(object_keys(store, "uploads/")) == 3
    for n, record_id in enumerate(ids):
        url = f"{V1}/mine/{record_id}/file/single_file"
        assert files_client.get(url, headers=owner.headers).content == f"bulk {n}".encode()
    records.append({"owner": make_user().id, "single_file": upload_input(b"x", "x.txt")})
    refused = files_client.post(f"{V1}/mine", json=records, headers=owner.headers)
    assert refused.status_code == 403  # one record breaks the create rule: none is written
    assert len(object_keys(store, "uploads/")) == 3


def test_thumbnails_of_the_sizes_a_file_column_offers(
    files_client: TestClient, apis: None, admin: TestUser, make_user: Any, store: ObjectStore
) -> None:
    offered = {"schema": "std.FileUpload", "thumbs": ["32x32_crop"]}
    define(
        files_client,
        admin,
        name="pictures",
        table_name="uploads",
        acl_authenticated=["CREATE", "READ"],
        file_columns={"single_file": offered},
    )
    config = files_client.get("/api/admin/record-apis/pictures", headers=admin.headers).json()
    assert config["file_columns"] == {"single_file": offered}
    owner = make_user()
    image = io.BytesIO()
    Image.new("RGB", (64, 48)).save(image, "PNG")
    record_id = create(
        files_client, owner, {"single_file": upload_input(image.getvalue(), "p.png")}, "pictures"
    )
    for api, size, status in (
        ("pictures", "32x32_crop", 200),
        ("pictures", "100x100", 200),
        ("pictures", "33x33", 400),
        ("mine", "32x32_crop", 400),  # the same column, through an API that does not offer it
    ):
        response = files_client.get(
            f"{V1}/{api}/{record_id}/file/single_file",
            params={"thumb": size},
            headers=owner.headers,
        )
        assert response.status_code == status, (api, size, response.text)
    assert len(list(store.list("_thumbs/"))) == 2


@pytest.mark.parametrize(
    ("thumbs", "message"),
    [
        (["1x1"] * 21, "at most 20 sizes"),
        (["5000x5"], "'5000x5': thumb: each side 0..2048, not both 0"),
    ],
)
def test_a_bad_thumbs_option_of_a_record_api_is_a_422(
    files_client: TestClient, admin: TestUser, tables: None, thumbs: list[str], message: str
) -> None:
    response = files_client.post(
        "/api/admin/record-apis",
        json={
            "name": "bad",
            "table_name": "uploads",
            "file_columns": {"single_file": {"schema": "std.FileUpload", "thumbs": thumbs}},
        },
        headers=admin.headers,
    )
    assert response.status_code == 422, response.text
    assert message in str(response.json()["detail"])
