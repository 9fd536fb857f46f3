"""File columns: TrailBase's ``std.FileUpload`` / ``std.FileUploads`` metadata in a column,
the bytes in the object store (:mod:`tinybase.storage`).

A column holds, for one file (TrailBase's ``FileUpload``)::

    {"id": "<uuid>", "filename": "photo_k3j9x0q2ab.png", "original_filename": "photo.png",
     "content_type": "image/png", "mime_type": "image/png"}

``id`` names the object (key ``{table}/{column}/{id}``) and is never shown to clients;
``filename`` is unique and names the file in download URLs; ``mime_type`` is sniffed from
the bytes (``content_type`` is only the client's claim). A ``files`` column holds a list.

Clients upload with :class:`UploadInput` values (multipart parts, or TrailBase's JSON
``{"name"?, "filename"?, "content_type"?, "data": base64}``); :mod:`tinybase.records.uploads`
writes them to the store and hands the engine :class:`StoredFile` values, the only values a
file column accepts (:mod:`tinybase.records.values`): stored metadata sent back by a
client is refused, so no record can point at another record's object.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from tinybase.errors import BadRequestError
from tinybase.storage.thumbs import ThumbSpec

__all__ = [
    "ALWAYS_OFFERED_THUMBS",
    "FILE_SCHEMAS",
    "MAX_THUMBS",
    "FileColumn",
    "StoredFile",
    "UploadInput",
    "object_key",
    "public_files",
    "stored_files",
    "thumbs_problem",
    "unique_filename",
    "upload_from_json",
]

#: TrailBase's JSON schema names for a single-file and a multi-file column.
FILE_SCHEMAS = {"std.FileUpload": False, "std.FileUploads": True}
#: Every file column offers this thumbnail size (PocketBase's, for admin UIs and lists).
ALWAYS_OFFERED_THUMBS = ("100x100",)
#: At most this many sizes per column: each may be rendered and stored once per file.
MAX_THUMBS = 20
_OPTIONS = ("schema", "max_size", "mime_types", "thumbs")
_INPUT_KEYS = frozenset({"name", "filename", "content_type", "data"})
_RANDOM = string.ascii_lowercase + string.digits
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class FileColumn:
    """A column that holds file metadata.

    Attributes:
        name: the column.
        multiple: a list of files (``std.FileUploads``, a ``files`` field).
        max_size: the largest file accepted, in bytes (None: the storage limit).
        mime_types: the sniffed types accepted (``image/*`` matches a family; empty: any).
        thumbs: the thumbnail sizes (``WxH[_mode]``) offered besides
            ``ALWAYS_OFFERED_THUMBS``; any other ``?thumb=`` is a 400, so readers cannot fill
            the store with thumbnails of sizes they make up.
    """

    name: str
    multiple: bool = False
    max_size: int | None = None
    mime_types: tuple[str, ...] = ()
    thumbs: tuple[str, ...] = ()

    def accepts(self, mime: str) -> bool:
        """Whether a file of sniffed type ``mime`` may be stored here."""
        if not self.mime_types:
            return True
        family = mime.split("/", 1)[0] + "/*"
        return mime in self.mime_types or family in self.mime_types

    def thumb(self, text: str) -> ThumbSpec:
        """The thumbnail ``?thumb=text`` asks for, if this column offers it.

        Raises:
            BadRequestError: not ``WxH[_mode]``, or a size the column does not offer.
        """
        spec = ThumbSpec.parse(text)
        offered = (*ALWAYS_OFFERED_THUMBS, *self.thumbs)
        if spec.name not in {ThumbSpec.parse(size).name for size in offered}:
            raise BadRequestError(
                f"thumb: {self.name!r} offers {', '.join(offered)}; other sizes must be "
                "added to its thumbs option"
            )
        return spec

    def to_json(self) -> dict[str, Any]:
        """The column as configuration data (see :meth:`from_json`)."""
        data: dict[str, Any] = {"schema": "std.FileUploads" if self.multiple else "std.FileUpload"}
        if self.max_size is not None:
            data["max_size"] = self.max_size
        if self.mime_types:
            data["mime_types"] = list(self.mime_types)
        if self.thumbs:
            data["thumbs"] = list(self.thumbs)
        return data

    @classmethod
    def from_json(cls, name: str, data: Any) -> FileColumn:
        """A column from ``"std.FileUpload"``, ``"std.FileUploads"`` or
        ``{"schema": ..., "max_size"?: bytes, "mime_types"?: [...], "thumbs"?: [...]}``.

        Raises:
            ValueError: anything else (the reason, short).
        """
        if isinstance(data, str):
            data = {"schema": data}
        if not isinstance(data, Mapping) or data.get("schema") not in FILE_SCHEMAS:
            raise ValueError("expected 'std.FileUpload' or 'std.FileUploads'")
        if set(data) - set(_OPTIONS):
            raise ValueError(f"unknown option ({', '.join(_OPTIONS)})")
        max_size = data.get("max_size")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)):
            raise ValueError("max_size: expected a number of bytes")
        types = data.get("mime_types") or ()
        if isinstance(types, str) or not all(isinstance(t, str) for t in types):
            raise ValueError("mime_types: expected a list of MIME types")
        thumbs = data.get("thumbs") or ()
        problem = thumbs_problem(thumbs)
        if problem:
            raise ValueError(f"thumbs: {problem}")
        return cls(name, FILE_SCHEMAS[data["schema"]], max_size, tuple(types), tuple(thumbs))


def thumbs_problem(thumbs: object) -> str | None:
    """What is wrong with a ``thumbs`` option (a list of ``WxH[_mode]``), or None."""
    if isinstance(thumbs, str) or not isinstance(thumbs, Sequence):
        return "expected a list of sizes such as '200x200' or '400x0_crop'"
    if len(thumbs) > MAX_THUMBS:
        return f"at most {MAX_THUMBS} sizes"
    for size in thumbs:
        if not isinstance(size, str):
            return "expected a list of sizes such as '200x200' or '400x0_crop'"
        try:
            ThumbSpec.parse(size)
        except BadRequestError as exc:
            return f"{size[:32]!r}: {exc.detail}"
    return None


@dataclass
class UploadInput:
    """One uploaded file before it is stored: its bytes and what the client said of it.

    ``source`` is a seekable binary file (a spooled multipart part, or the decoded JSON
    data); ``filename`` and ``content_type`` are the client's, kept as metadata only.
    """

    source: BinaryIO
    filename: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An upload already written to the store: the value a file column accepts."""

    id: str
    filename: str
    original_filename: str | None = None
    content_type: str | None = None
    mime_type: str = "application/octet-stream"
    key: str = field(default="", compare=False)

    def metadata(self) -> dict[str, Any]:
        """TrailBase's ``FileUpload`` object (what the column stores)."""
        data: dict[str, Any] = {"id": self.id, "filename": self.filename}
        if self.original_filename is not None:
            data["original_filename"] = self.original_filename
        if self.content_type is not None:
            data["content_type"] = self.content_type
        data["mime_type"] = self.mime_type
        return data


def upload_from_json(value: Mapping[str, Any]) -> UploadInput:
    """TrailBase's JSON upload input ``{name?, filename?, content_type?, data}``.

    ``data`` is base64, url-safe or standard, padded or not (TrailBase accepts both).

    Raises:
        ValueError: an unknown key, no ``data``, or data that is not base64.
    """
    unknown = set(value) - _INPUT_KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} in a file upload")
    data = value.get("data")
    if not isinstance(data, str):
        raise ValueError("a file upload needs 'data' (base64)")
    for key in ("filename", "content_type"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise ValueError(f"{key}: expected a string")
    return UploadInput(io.BytesIO(_base64(data)), value.get("filename"), value.get("content_type"))


def _base64(data: str) -> bytes:
    padded = data.strip() + "=" * (-len(data.strip()) % 4)
    for alphabet in (b"-_", b"+/"):
        try:
            return base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise ValueError("data: not base64")


def unique_filename(original: str | None) -> str:
    """A unique name for a stored file: ``{stem}_{random10}.{ext}`` of the client's name,
    its folders dropped and every character but ``[A-Za-z0-9_.-]`` removed, so it is never
    a path and is safe in a header (``../../etc/passwd`` gives ``passwd_k3j9x0q2ab``), or
    just the random part when nothing is left."""
    random = "".join(secrets.choice(_RANDOM) for _ in range(10))
    cleaned = _UNSAFE.sub("", (original or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    cleaned = cleaned.strip(".")[:100]
    stem, dot, extension = cleaned.rpartition(".")
    if not dot:
        stem, extension = cleaned, ""
    stem, extension = stem.strip("."), extension[:16]
    if not stem and not extension:
        return random
    if not stem:
        return f"{random}.{extension}"
    return f"{stem}_{random}.{extension}" if extension else f"{stem}_{random}"


def object_key(table: str, column: str, file_id: str) -> str:
    """Where the bytes of file ``file_id`` of ``table.column`` live in the store."""
    return f"{table}/{column}/{file_id}"


def stored_files(value: Any) -> list[dict[str, Any]]:
    """The metadata objects a column value holds (JSON text or parsed; one or a list)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
    items: Sequence[Any] = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]


def public_files(value: Any, *, multiple: bool) -> Any:
    """A column value as clients see it: the metadata without the object ``id``."""
    if value is None:
        return None
    shown = [{k: v for k, v in item.items() if k != "id"} for item in stored_files(value)]
    if multiple:
        return shown
    return shown[0] if shown else None
