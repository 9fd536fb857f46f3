"""Downloads from the attacker's side: headers and images crafted to make the server fail.

A ``Range`` with thousands of digits, and a valid 16-bit PNG asked for as a thumbnail,
were 500s (``int()`` refuses past 4300 digits; Pillow does not resize ``I;16`` images).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.files.test_collection_files import create, docs, file_url, upload  # noqa: F401

HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("header", "status", "content_range", "body"),
    [
        (f"bytes={HUGE}-", 416, "bytes */11", b""),
        (f"bytes=0-{HUGE}", 206, "bytes 0-10/11", b"hello world"),
        (f"bytes=-{HUGE}", 206, "bytes 0-10/11", b"hello world"),
        (f"bytes={HUGE}-{HUGE}", 416, "bytes */11", b""),
    ],
)
def test_a_range_with_thousands_of_digits_is_answered_not_a_500(
    files_client: TestClient,
    docs: str,  # noqa: F811
    make_user: Any,
    header: str,
    status: int,
    content_range: str,
    body: bytes,
) -> None:
    owner = make_user()
    record = create(files_client, owner, {"attachment": upload(b"hello world")}).json()
    response = files_client.get(file_url(record["id"]), headers={**owner.headers, "Range": header})
    assert response.status_code == status, response.text
    assert response.headers["content-range"] == content_range
    assert response.content == body


def _png(mode: str) -> bytes:
    output = io.BytesIO()
    Image.new(mode, (40, 20), 300 if mode == "I;16" else 0).save(output, "PNG")
    return output.getvalue()


@pytest.mark.parametrize("mode", ["I;16", "LA"])
@pytest.mark.parametrize("thumb", ["10x10", "0x5"])
def test_a_thumbnail_of_a_png_of_any_mode_is_a_png(
    files_client: TestClient,
    docs: str,  # noqa: F811
    make_user: Any,
    mode: str,
    thumb: str,
) -> None:
    owner = make_user()
    response = create(files_client, owner, {"gallery": [upload(_png(mode), "deep.png")]})
    assert response.status_code == 201, response.text
    url = file_url(response.json()["id"], "gallery") + f"?thumb={thumb}"
    download = files_client.get(url, headers=owner.headers)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(download.content)) as image:
        assert max(image.size) <= 10
