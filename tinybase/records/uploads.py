"""Uploads: the objects of a write are stored first, then the row is written.

:meth:`Uploads.stage` turns every upload in a write's values (an :class:`UploadInput`, or
TrailBase's JSON input object) into a :class:`StoredFile` (the object written to the store,
its size and type checked), so the engine only ever writes rows that point at objects that
exist. :meth:`Staged.discard` removes them again when the write fails or rolls back; what a
crash in between leaves is removed by the orphan sweep (:mod:`tinybase.records.file_cleanup`).

Checks, each raised before the row is written:

- larger than the column's ``max_size`` (default: ``storage.max_file_size_mb``): 413;
- a sniffed type the column does not accept: 422 naming the field;
- a value that is not an upload (stored metadata sent back, a string): 422 naming the field.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from tinybase.errors import PayloadTooLargeError, StorageError, ValidationError
from tinybase.records.file_columns import (
    FileColumn,
    StoredFile,
    UploadInput,
    object_key,
    unique_filename,
    upload_from_json,
)
from tinybase.storage.sniff import SNIFF_BYTES, sniff

if TYPE_CHECKING:
    from tinybase.records.engine import RecordEngine
    from tinybase.storage import FileStorage

__all__ = ["Staged", "Uploads", "carries_uploads"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


def carries_uploads(values: Any) -> bool:
    """Whether a write's values may hold uploads (an :class:`UploadInput`, or an object
    with ``data``): only then is staging worth a lookup and a thread hop."""
    records = values if isinstance(values, list) else [values]
    return any(
        isinstance(record, Mapping) and any(_is_upload(value) for value in record.values())
        for record in records
    )


def _is_upload(value: Any) -> bool:
    """An upload, or a list holding one (one level: a ``files`` column's value; bodies
    may nest deeper than Python recurses)."""
    if isinstance(value, list):
        return any(_is_one_upload(item) for item in value)
    return _is_one_upload(value)


def _is_one_upload(value: Any) -> bool:
    return isinstance(value, UploadInput) or (isinstance(value, Mapping) and "data" in value)


@dataclass
class Staged:
    """A write's values with their uploads stored, and the keys written (for rollback)."""

    values: Any
    keys: list[str] = field(default_factory=list)
    storage: FileStorage | None = None

    def discard(self) -> None:
        """Delete every object this write stored (its row was not written)."""
        if self.storage is None:
            return
        for key in self.keys:
            try:
                self.storage.store.delete(key)
            except StorageError:
                # The orphan sweep removes it later (nothing points at it).
                logger.warning("could not delete %s after a failed write", key)
        self.keys.clear()


class Uploads:
    """Stores the uploads of record writes in the instance's file storage.

    Args:
        storage: the instance's :class:`tinybase.storage.FileStorage`.
    """

    def __init__(self, storage: FileStorage) -> None:
        self.storage = storage

    def written(
        self,
        engine: RecordEngine,
        values: Any,
        write: Callable[[Any], _T],
        *,
        loc: Sequence[str] = ("body",),
    ) -> _T:
        """``write(values)`` with the uploads in ``values`` stored first, and deleted again
        when the write raises (the blocking form, for Python callers).

        Raises:
            Whatever :meth:`stage` or ``write`` raises.
        """
        if not carries_uploads(values):
            return write(values)
        staged = self.stage(engine, values, loc=loc)
        try:
            return write(staged.values)
        except BaseException:
            staged.discard()
            raise

    def stage(self, engine: RecordEngine, values: Any, *, loc: Sequence[str] = ("body",)) -> Staged:
        """Store the uploads of ``values`` (one record, or a list of them) for ``engine``.

        Values of non-file columns, and values that are not uploads, pass unchanged (the
        engine's value vocabulary refuses the latter, naming the field).

        Raises:
            PayloadTooLargeError: a file past its column's size limit (413).
            ValidationError: a type the column refuses, or a broken upload (422, named).
            StorageError: the store failed (503).
        """
        staged = Staged(values, storage=self.storage)
        if not engine.file_columns:
            return staged
        try:
            if isinstance(values, Mapping):
                staged.values = self._record(engine, values, staged, loc)
            elif isinstance(values, list):
                staged.values = [
                    self._record(engine, v, staged, loc) if isinstance(v, Mapping) else v
                    for v in values
                ]
        except BaseException:
            staged.discard()
            raise
        return staged

    def _record(
        self, engine: RecordEngine, values: Mapping[str, Any], staged: Staged, loc: Sequence[str]
    ) -> dict[str, Any]:
        record = dict(values)
        for name, column in engine.file_columns.items():
            value = record.get(name)
            if value is None:
                continue
            where = (*loc, name)
            if column.multiple and isinstance(value, list):
                record[name] = [self._file(engine, column, v, staged, where) for v in value]
            else:
                record[name] = self._file(engine, column, value, staged, where)
        return record

    def _file(
        self,
        engine: RecordEngine,
        column: FileColumn,
        value: Any,
        staged: Staged,
        loc: Sequence[str],
    ) -> Any:
        if isinstance(value, Mapping) and "data" in value:
            try:
                value = upload_from_json(value)
            except ValueError as exc:
                raise _invalid(loc, str(exc)) from None
        if not isinstance(value, UploadInput):
            return value  # refused by the engine's conversion, named
        stored = self._store(engine.table.name, column, value, loc)
        staged.keys.append(stored.key)
        return stored

    def _store(
        self, table: str, column: FileColumn, upload: UploadInput, loc: Sequence[str]
    ) -> StoredFile:
        source = upload.source
        limit = column.max_size or self.storage.max_file_size
        if _size(source) > limit:
            raise PayloadTooLargeError(f"{loc[-1]}: the file is larger than {limit} bytes")
        head = source.read(SNIFF_BYTES)
        source.seek(0)
        mime = sniff(head)
        if not column.accepts(mime):
            accepted = ", ".join(column.mime_types)
            raise _invalid(loc, f"file type {mime} is not accepted ({accepted})")
        file_id = str(uuid.uuid4())
        key = object_key(table, column.name, file_id)
        self.storage.store.put(key, source)
        original = upload.filename[:255] if upload.filename else None
        claimed = upload.content_type[:255] if upload.content_type else None
        return StoredFile(file_id, unique_filename(original), original, claimed, mime, key)


def _size(source: BinaryIO) -> int:
    position = source.tell()
    size = source.seek(0, os.SEEK_END)
    source.seek(position)
    return size - position


def _invalid(loc: Sequence[str], message: str) -> ValidationError:
    return ValidationError([{"loc": list(loc), "msg": message, "type": "value_error"}])
