"""File fields of collections through ``/api/collections``: upload (JSON and multipart),
download guarded by the record's read rule, cleanup, limits, and the attacker's side.

Every test runs on SQLite and PostgreSQL, with the local folder and with the real S3 server.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.api.helpers import CORE, TestUser, bad_tokens, make_collection
from tests.files.conftest import object_keys, wait_until_gone
from tinybase.storage import ObjectStore

OWNER_RULES = {
    "create": "auth",
    "read": "owner",
    "list": "owner",
    "update": "owner",
    "delete": "owner",
}
FIELDS = [
    {"name": "title", "type": "string"},
    {"name": "slug", "type": "string", "unique": True},
    {"name": "attachment", "type": "file"},
    {
        "name": "gallery",
        "type": "files",
        "mime_types": ["image/*"],
        "thumbs": ["50x50", "50x50_crop", "0x20", "10x10", "0x5"],
    },
]
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def png(width: int = 40, height: int = 20) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(output, "PNG")
    return output.getvalue()


def upload(data: bytes, filename: str = "notes.txt", **extra: Any) -> dict[str, Any]:
    return {"filename": filename, "data": base64.b64encode(data).decode(), **extra}


@pytest.fixture
def docs(files_client: TestClient, admin: TestUser) -> str:
    make_collection(files_client, admin, "docs", FIELDS, OWNER_RULES)
    return "docs"


def create(client: TestClient, user: TestUser, data: dict[str, Any]) -> Any:
    return client.post(f"{CORE}/docs/records", json={"data": data}, headers=user.headers)


def file_url(record_id: str, field: str = "attachment", name: str | None = None) -> str:
    url = f"{CORE}/docs/records/{record_id}/files/{field}"
    return f"{url}/{name}" if name else url


def test_json_upload_stores_metadata_and_the_owner_downloads_it(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    response = create(files_client, owner, {"title": "a", "attachment": upload(b"hello world")})
    assert response.status_code == 201, response.text
    record = response.json()
    meta = record["data"]["attachment"]
    assert set(meta) == {"filename", "original_filename", "mime_type"}
    assert meta["original_filename"] == "notes.txt"
    assert meta["mime_type"] == "text/plain"
    assert meta["filename"].startswith("notes_") and meta["filename"].endswith(".txt")
    assert len(object_keys(store, "docs/attachment/")) == 1

    download = files_client.get(file_url(record["id"]), headers=owner.headers)
    assert download.status_code == 200
    assert download.content == b"hello world"
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["content-length"] == "11"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == f'inline; filename="{meta["filename"]}"'
    by_name = files_client.get(file_url(record["id"], name=meta["filename"]), headers=owner.headers)
    assert by_name.content == b"hello world"
    missing = files_client.get(file_url(record["id"], name="nope.txt"), headers=owner.headers)
    assert missing.status_code == 404


def test_other_users_anonymous_and_bad_tokens_cannot_download(
    files_client: TestClient, docs: str, make_user: Any
) -> None:
    owner, other = make_user(), make_user()
    record = create(files_client, owner, {"attachment": upload(b"secret")}).json()
    url = file_url(record["id"])
    assert files_client.get(url, headers=other.headers).status_code == 404
    anonymous = files_client.get(url)
    assert (
        anonymous.status_code == files_client.get(f"{CORE}/docs/records/{record['id']}").status_code
    )
    assert anonymous.status_code in (401, 403, 404) and b"secret" not in anonymous.content
    for name, token in bad_tokens(files_client, owner).items():
        response = files_client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
    assert files_client.get(url, headers=owner.headers).content == b"secret"


def test_multipart_create_and_update(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    response = files_client.post(
        f"{CORE}/docs/records",
        data={"title": "form"},
        files=[
            ("attachment", ("report.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "application/pdf")),
            ("gallery", ("a.png", png(), "image/png")),
            ("gallery", ("b.png", png(10, 10), "image/png")),
        ],
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["data"]["title"] == "form"
    assert record["data"]["attachment"]["mime_type"] == "application/pdf"
    assert [f["original_filename"] for f in record["data"]["gallery"]] == ["a.png", "b.png"]
    assert len(object_keys(store, "docs/")) == 3
    second = record["data"]["gallery"][1]["filename"]
    image = files_client.get(file_url(record["id"], "gallery", second), headers=owner.headers)
    assert image.status_code == 200 and image.content == png(10, 10)
    assert image.headers["content-disposition"].startswith("inline")

    update = files_client.patch(
        f"{CORE}/docs/records/{record['id']}",
        files=[("attachment", ("new.txt", b"replaced", "text/plain"))],
        headers=owner.headers,
    )
    assert update.status_code == 200, update.text
    assert update.json()["data"]["attachment"]["original_filename"] == "new.txt"
    assert files_client.get(file_url(record["id"]), headers=owner.headers).content == b"replaced"


def test_replace_remove_and_delete_clean_up_after_the_commit(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    record = create(
        files_client,
        owner,
        {"attachment": upload(b"one"), "gallery": [upload(png(), "a.png"), upload(png(), "b.png")]},
    ).json()
    first = object_keys(store, "docs/attachment/")
    assert len(first) == 1 and len(object_keys(store, "docs/gallery/")) == 2
    url = f"{CORE}/docs/records/{record['id']}"
    replaced = files_client.patch(
        url, json={"data": {"attachment": upload(b"two")}}, headers=owner.headers
    )
    assert replaced.status_code == 200, replaced.text
    wait_until_gone(store, first)
    assert len(object_keys(store, "docs/attachment/")) == 1
    assert files_client.get(file_url(record["id"]), headers=owner.headers).content == b"two"

    removed = files_client.patch(url, json={"data": {"attachment": None}}, headers=owner.headers)
    assert removed.status_code == 200 and removed.json()["data"]["attachment"] is None
    wait_until_gone(store, object_keys(store, "docs/attachment/"))
    assert files_client.get(file_url(record["id"]), headers=owner.headers).status_code == 404

    gallery = object_keys(store, "docs/gallery/")
    assert files_client.delete(url, headers=owner.headers).status_code == 204
    wait_until_gone(store, gallery)
    assert object_keys(store, "docs/") == set()


def test_a_failed_insert_leaves_no_object(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    assert create(files_client, owner, {"slug": "taken"}).status_code == 201
    conflict = create(files_client, owner, {"slug": "taken", "attachment": upload(b"orphan?")})
    assert conflict.status_code == 409, conflict.text
    assert object_keys(store, "docs/") == set()


def test_range_and_etag(files_client: TestClient, docs: str, make_user: Any) -> None:
    owner = make_user()
    body = bytes(range(256)) * 4
    record = create(files_client, owner, {"attachment": upload(body, "data.bin")}).json()
    url = file_url(record["id"])
    whole = files_client.get(url, headers=owner.headers)
    assert whole.status_code == 200 and whole.content == body
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].startswith("attachment")
    etag = whole.headers["etag"]
    cached = files_client.get(url, headers={**owner.headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    part = files_client.get(url, headers={**owner.headers, "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == body[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(body)}"
    assert part.headers["content-length"] == "10"
    tail = files_client.get(url, headers={**owner.headers, "Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == body[-5:]
    beyond = files_client.get(url, headers={**owner.headers, "Range": "bytes=5000-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(body)}"
    other = make_user()
    sneaky = files_client.get(url, headers={**other.headers, "If-None-Match": etag})
    assert sneaky.status_code == 404  # a known ETag does not bypass the read rule


def test_html_and_svg_are_attachments_with_nosniff(
    files_client: TestClient, docs: str, make_user: Any
) -> None:
    owner = make_user()
    html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    record = create(
        files_client,
        owner,
        {"attachment": upload(html, "page.html", content_type="image/png")},
    ).json()
    assert record["data"]["attachment"]["mime_type"] == "text/html"
    assert record["data"]["attachment"]["content_type"] == "image/png"  # the claim, kept
    response = files_client.get(file_url(record["id"]), headers=owner.headers)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    record = create(files_client, owner, {"attachment": upload(svg, "x.svg")}).json()
    response = files_client.get(file_url(record["id"]), headers=owner.headers)
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["content-disposition"].startswith("attachment;")


def test_filename_is_metadata_never_a_path(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    record = create(
        files_client, owner, {"attachment": upload(b"x", '../../etc/passwd"\r\nX-Evil: 1')}
    ).json()
    meta = record["data"]["attachment"]
    assert meta["original_filename"] == '../../etc/passwd"\r\nX-Evil: 1'
    assert "/" not in meta["filename"] and ".." not in meta["filename"]
    assert all(c.isalnum() or c in "_.-" for c in meta["filename"])
    (key,) = object_keys(store, "docs/")
    assert key.startswith("docs/attachment/") and ".." not in key
    response = files_client.get(file_url(record["id"]), headers=owner.headers)
    assert "x-evil" not in response.headers
    traversal = files_client.get(
        file_url(record["id"], name="..%2F..%2Fetc%2Fpasswd"), headers=owner.headers
    )
    assert traversal.status_code == 404


def test_disallowed_type_is_a_422_naming_the_field(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    response = create(files_client, owner, {"gallery": [upload(b"plain text", "a.png")]})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "data", "gallery"]
    assert "text/plain" in error["msg"]
    assert object_keys(store, "docs/") == set()


def test_metadata_sent_back_is_refused(files_client: TestClient, docs: str, make_user: Any) -> None:
    victim, attacker = make_user(), make_user()
    victim_record = create(files_client, victim, {"attachment": upload(b"victim's")}).json()
    stolen = {**victim_record["data"]["attachment"], "id": "00000000-0000-4000-8000-000000000000"}
    response = create(files_client, attacker, {"attachment": stolen})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "data", "attachment"]
    not_base64 = create(files_client, attacker, {"attachment": {"data": "%%%"}})
    assert not_base64.status_code == 422


def test_over_the_size_limit_is_a_413(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    big = b"\0" * (20 * 1024 * 1024)
    response = files_client.post(
        f"{CORE}/docs/records",
        files=[("attachment", ("big.bin", big, "application/octet-stream"))],
        headers=owner.headers,
    )
    assert response.status_code == 413
    assert "detail" in response.json()
    limited = create(files_client, owner, {"attachment": upload(b"\0" * (10 * 1024 * 1024 + 1))})
    assert limited.status_code == 413
    assert object_keys(store, "docs/") == set()


def test_thumbnails(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    owner = make_user()
    record = create(
        files_client,
        owner,
        {"gallery": [upload(png(200, 100), "wide.png")], "attachment": upload(b"text")},
    ).json()
    name = record["data"]["gallery"][0]["filename"]
    url = file_url(record["id"], "gallery", name)
    for spec, size in (("50x50", (50, 25)), ("50x50_crop", (50, 50)), ("0x20", (40, 20))):
        response = files_client.get(url, params={"thumb": spec}, headers=owner.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(response.content)).size == size
    assert len([i for i in store.list("_thumbs/")]) == 3
    again = files_client.get(url, params={"thumb": "50x50_fit"}, headers=owner.headers)
    assert again.status_code == 200  # the same size as 50x50: served from the cache
    assert len([i for i in store.list("_thumbs/")]) == 3
    assert files_client.get(url, params={"thumb": "big"}, headers=owner.headers).status_code == 400
    not_image = files_client.get(
        file_url(record["id"]), params={"thumb": "10x10"}, headers=owner.headers
    )
    assert not_image.status_code == 400
    assert (
        files_client.delete(
            f"{CORE}/docs/records/{record['id']}", headers=owner.headers
        ).status_code
        == 204
    )
    wait_until_gone(store, object_keys(store, "docs/"))
    deadline_keys = {i.key for i in store.list("_thumbs/")}
    assert deadline_keys == set() or wait_until_gone(store, deadline_keys) is None


def test_only_the_sizes_a_field_offers_are_rendered(
    files_client: TestClient, docs: str, make_user: Any, store: ObjectStore
) -> None:
    """A reader cannot fill the store with thumbnails of sizes they make up."""
    owner = make_user()
    record = create(files_client, owner, {"gallery": [upload(png(300, 300), "big.png")]}).json()
    url = file_url(record["id"], "gallery")
    for size in ("51x51", "50x50_top", "2048x2048"):
        response = files_client.get(url, params={"thumb": size}, headers=owner.headers)
        assert response.status_code == 400
        assert response.json() == {
            "detail": "thumb: 'gallery' offers 100x100, 50x50, 50x50_crop, 0x20, 10x10, 0x5; "
            "other sizes must be added to its thumbs option"
        }
    assert list(store.list("_thumbs/")) == []
    always = files_client.get(url, params={"thumb": "100x100"}, headers=owner.headers)
    assert always.status_code == 200
    assert Image.open(io.BytesIO(always.content)).size == (100, 100)


@pytest.mark.parametrize(
    ("thumbs", "where", "message"),
    [
        ("100x100", [], "Input should be a valid tuple"),
        (["100x100", 5], [1], "Input should be a valid string"),
        (["huge"], [], "'huge': thumb: expected WxH with an optional _fit|_crop|_top|_bottom"),
        (["0x0"], [], "'0x0': thumb: each side 0..2048, not both 0"),
        ([f"{n}x{n}" for n in range(1, 22)], [], "at most 20 sizes"),
    ],
)
def test_a_bad_thumbs_option_is_a_422_naming_it(
    files_client: TestClient, admin: TestUser, thumbs: Any, where: list[int], message: str
) -> None:
    schema = {"fields": [{"name": "pictures", "type": "files", "thumbs": thumbs}]}
    response = files_client.post(
        "/api/collections", json={"name": "thumbed", "schema": schema}, headers=admin.headers
    )
    assert response.status_code == 422, response.text
    assert [(e["loc"], e["msg"]) for e in response.json()["detail"]] == [
        (["body", "schema", "fields", 0, "thumbs", *where], message)
    ]


def test_not_a_file_field_is_a_400(files_client: TestClient, docs: str, make_user: Any) -> None:
    owner = make_user()
    record = create(files_client, owner, {"title": "t"}).json()
    response = files_client.get(file_url(record["id"], "title"), headers=owner.headers)
    assert response.status_code == 400
    assert (
        files_client.get(file_url(record["id"], "nope"), headers=owner.headers).status_code == 400
    )
