"""The storage helpers on their own: key safety, the local store, sniffing, filenames."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinybase.errors import NotFoundError
from tinybase.records.file_columns import FileColumn, unique_filename, upload_from_json
from tinybase.storage import LocalStore, check_key
from tinybase.storage.sniff import inline_allowed, sniff


@pytest.mark.parametrize(
    "key", ["../x", "/etc/passwd", "a/../b", "a//b", ".hidden", "a/.b", "a\\b", "", "a b"]
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="unsafe object key"):
        check_key(key)


def test_local_store_round_trip(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "files")
    assert list(store.list()) == []
    assert store.put("t/c/id1", io.BytesIO(b"0123456789")) == 10
    assert b"".join(store.read("t/c/id1")) == b"0123456789"
    assert b"".join(store.read("t/c/id1", 2, 5)) == b"234"
    assert store.stat("t/c/id1").size == 10
    assert [item.key for item in store.list("t/")] == ["t/c/id1"]
    store.delete("t/c/id1")
    store.delete("t/c/id1")  # already gone: no error
    with pytest.raises(NotFoundError):
        store.stat("t/c/id1")
    with pytest.raises(NotFoundError):
        store.read("t/c/id1")
    store.check()


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "image/png"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"<!doctype html><p>x", "text/html"),
        (b"  <HTML><BODY>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (b'<?xml version="1.0"?><note/>', "application/xml"),
        (b"just some words\n", "text/plain"),
        ("h\u00e9llo".encode(), "text/plain"),
        (b"\x00\x01\x02\xff", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_sniffing(head: bytes, mime: str) -> None:
    assert sniff(head) == mime


def test_only_safe_types_are_inline() -> None:
    assert all(inline_allowed(m) for m in ("image/png", "application/pdf", "video/mp4"))
    assert not any(
        inline_allowed(m)
        for m in ("text/html", "image/svg+xml", "application/javascript", "application/xml")
    )


@pytest.mark.parametrize(
    ("original", "stem", "extension"),
    [
        ("report.pdf", "report_", ".pdf"),
        ("../../etc/passwd", "passwd_", ""),
        ("C:\\Users\\x\\a b.png", "ab_", ".png"),
        ('evil"\r\n.html', "evil_", ".html"),
    ],
)
def test_unique_filenames_are_never_paths(original: str, stem: str, extension: str) -> None:
    name = unique_filename(original)
    assert name.startswith(stem) and name.endswith(extension)
    assert len(name) == len(stem) + 10 + len(extension)
    assert unique_filename(original) != name


def test_unique_filename_without_a_usable_name_is_random() -> None:
    assert len(unique_filename(None)) == 10
    assert len(unique_filename("../")) == 10


def test_json_upload_input() -> None:
    upload = upload_from_json({"filename": "a", "data": "AAECAwQF"})
    assert upload.source.read() == bytes(range(6))
    assert upload_from_json({"data": "_-8"}).source.read() == b"\xff\xef"  # url-safe, unpadded
    for bad in ({"data": "!!"}, {"name": "x"}, {"data": "AA==", "extra": 1}):
        with pytest.raises(ValueError):
            upload_from_json(bad)


def test_file_column_accepts_types() -> None:
    column = FileColumn("c", mime_types=("image/*", "application/pdf"))
    assert column.accepts("image/png") and column.accepts("application/pdf")
    assert not column.accepts("text/html")
    assert FileColumn("c").accepts("text/html")
