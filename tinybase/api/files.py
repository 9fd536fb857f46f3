"""The HTTP side of file columns: upload bodies in, file downloads out.

Uploads: :func:`form_values` reads a ``multipart/form-data`` body (file parts are spooled
to disk by Starlette, never held whole in memory) into the values of a record, each file an
:class:`UploadInput`; :func:`write_with_files` stores a write's uploads first
(:class:`tinybase.records.uploads.Uploads`, in a worker thread), runs the write, and
deletes what it stored if the write fails.

Downloads: :func:`file_response` streams an object with ``Content-Length``, a strong
``ETag`` (the object's id: objects never change), ``If-None-Match`` (304), a single
``Range`` (206, 416), the sniffed type, ``X-Content-Type-Options: nosniff`` and
``Content-Disposition: attachment`` unless the type is safe to show
(:func:`tinybase.storage.sniff.inline_allowed`). Access is decided before, by the record's
read rule (:meth:`tinybase.records.engine.RecordEngine.files`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request, Response
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse

from tinybase.api.state import AppState
from tinybase.errors import NotFoundError, ValidationError
from tinybase.records.file_columns import FileColumn, UploadInput, object_key
from tinybase.records.uploads import carries_uploads
from tinybase.storage.sniff import inline_allowed
from tinybase.storage.thumbs import cached_thumbnail, thumbnail_type

__all__ = [
    "THUMB_QUERY",
    "file_response",
    "form_values",
    "pick_file",
    "upload_body_limit",
    "upload_limit_for",
    "write_with_files",
]

_T = TypeVar("_T")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MAX_FORM_FILES = 100
_RECORD_PREFIXES = ("/api/records/v1/", "/api/v1/records/")
_COLLECTIONS_PREFIX = "/api/collections/"

#: The ``thumb`` query parameter of the download routes, for the OpenAPI document.
THUMB_QUERY = {
    "thumb": {
        "type": "string",
        "description": "WxH[_fit|_crop|_top|_bottom]: 100x100, or a size in the column's thumbs",
    }
}


def upload_body_limit(max_file_size: int) -> int:
    """The largest body of a write that may carry files: a file at the limit sent as
    base64 JSON (4/3 of it), plus room for the other fields and the multipart framing."""
    return max_file_size * 4 // 3 + 64 * 1024


def upload_limit_for(state: AppState, path: str, *, multipart: bool) -> int | None:
    """The body limit of a record write to ``path`` that may carry files, or None (the
    ordinary limit applies).

    A multipart write may always carry files (it is streamed, never buffered); a JSON one
    only to an API with file columns, as of the registry's last load (no database read:
    this runs on the event loop before the body is read).
    """
    name = _record_api_of(path)
    if name is None or not (multipart or state.record_apis.stores_files(name)):
        return None
    return upload_body_limit(state.storage.max_file_size)


def _record_api_of(path: str) -> str | None:
    for prefix in _RECORD_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) :].split("/", 1)[0]
    if path.startswith(_COLLECTIONS_PREFIX):
        parts = path[len(_COLLECTIONS_PREFIX) :].split("/")
        if len(parts) >= 2 and parts[1] == "records":
            return parts[0]
    return None


async def form_values(request: Request) -> dict[str, Any]:
    """A url-encoded or multipart form as record values: text parts as strings, file parts
    as :class:`UploadInput` (a name given several files: a list). Empty file inputs (what a
    browser sends for a file input left empty) are skipped.

    Raises:
        ValidationError: a text field given more than once (422, named).
    """
    form = await request.form(max_files=MAX_FORM_FILES)
    try:
        return _form_values(form.multi_items())
    except BaseException:
        await form.close()
        raise


def _form_values(items: list[tuple[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in items:
        if isinstance(value, UploadFile):
            if not value.filename and not value.size:
                value.file.close()
                continue
            upload = UploadInput(value.file, value.filename, value.content_type)
            previous = values.get(key)
            if isinstance(previous, UploadInput):
                values[key] = [previous, upload]
            elif isinstance(previous, list):
                previous.append(upload)
            else:
                values[key] = upload
            continue
        if key in values:
            raise ValidationError.for_field(key, "given more than once")
        values[key] = value
    return values


async def write_with_files(
    state: AppState,
    api: str,
    values: Any,
    write: Callable[[Any], Awaitable[_T]],
    *,
    loc: tuple[str, ...] = ("body",),
) -> _T:
    """``await write(values)`` with the uploads in ``values`` stored first (for API
    ``api``'s file columns), and deleted again if the write fails or rolls back. The
    uploads' spooled files are closed once stored."""
    if not carries_uploads(values):
        return await write(values)

    def stage() -> Any:
        try:
            return state.uploads.stage(state.record_apis.get(api), values, loc=loc)
        finally:
            _close_uploads(values)

    staged = await anyio.to_thread.run_sync(stage)
    try:
        return await write(staged.values)
    except BaseException:
        await anyio.to_thread.run_sync(staged.discard)
        raise


def _close_uploads(values: Any) -> None:
    if isinstance(values, UploadInput):
        values.source.close()
    elif isinstance(values, list):
        for item in values:
            _close_uploads(item)
    elif isinstance(values, Mapping):
        for item in values.values():
            _close_uploads(item)


def pick_file(files: list[dict[str, Any]], filename: str | None) -> dict[str, Any]:
    """The file named ``filename`` among a column's files (the first one if None).

    Raises:
        NotFoundError: no such file (or the column is empty).
    """
    for item in files:
        if filename is None or item.get("filename") == filename:
            return item
    raise NotFoundError("file not found")


async def file_response(
    request: Request, state: AppState, table: str, column: FileColumn, file: Mapping[str, Any]
) -> Response:
    """The download of ``file`` (the stored metadata of one of ``column``'s files)."""
    store = state.storage.store
    key = object_key(table, column.name, file["id"])
    mime = str(file.get("mime_type") or "application/octet-stream")
    etag = f'"{file["id"]}"'
    thumb = request.query_params.get("thumb")
    if thumb:
        spec = column.thumb(thumb)
        key = await anyio.to_thread.run_sync(cached_thumbnail, store, key, mime, spec)
        mime, etag = thumbnail_type(mime), f'"{file["id"]}-{spec.name}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": _disposition(mime, str(file.get("filename") or "file")),
        "Accept-Ranges": "bytes",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    size = (await anyio.to_thread.run_sync(store.stat, key)).size
    status, start, end = 200, 0, size
    wanted = _range(request.headers.get("range"), size)
    if wanted == "unsatisfiable":
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is not None and request.headers.get("if-range", etag) == etag:
        status, (start, end) = 206, wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    chunks = await anyio.to_thread.run_sync(store.read, key, start, end)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=mime)


def _disposition(mime: str, filename: str) -> str:
    # The stored filename holds only [A-Za-z0-9_.-] (records.file_columns.unique_filename):
    # safe inside the quotes, no header injection.
    kind = "inline" if inline_allowed(mime) else "attachment"
    return f'{kind}; filename="{filename}"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """A single ``bytes=`` range as ``(start, end)`` (end exclusive), ``"unsatisfiable"``,
    or None (no range, or a form served whole: several ranges, another unit)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if not match[1]:  # a suffix: the last N bytes
        length = _position(match[2])
        return (max(0, size - length), size) if length else "unsatisfiable"
    start = _position(match[1])
    end = min(_position(match[2]) + 1, size) if match[2] else size
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


def _position(digits: str) -> int:
    """A byte position of a ``Range`` header. 19 digits and more are past any object;
    ``int()`` would refuse past 4300 digits (a 500)."""
    return int(digits) if len(digits) < 19 else 10**18
