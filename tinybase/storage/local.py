"""The local-directory object store (the default): one file per object under a root folder.

Writes go to a temporary file in the root and are renamed into place, so a reader never sees
half an object and a crash leaves only a ``.tmp-*`` file (which :meth:`LocalStore.list`
skips and the orphan sweep never needs to know about).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from tinybase.errors import NotFoundError, StorageError
from tinybase.storage.base import CHUNK_SIZE, ObjectInfo, check_key

__all__ = ["LocalStore"]

logger = logging.getLogger(__name__)

_TEMP_PREFIX = ".tmp-"


class LocalStore:
    """Objects as files under ``root`` (created on first write).

    Args:
        root: the folder; keys are paths relative to it (checked: never outside it).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, source: BinaryIO) -> int:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
            try:
                with os.fdopen(handle, "wb") as target:
                    shutil.copyfileobj(source, target, CHUNK_SIZE)
                    size = target.tell()
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            logger.error("local store: writing %s failed: %s", key, exc)
            raise StorageError() from exc
        return size

    def stat(self, key: str) -> ObjectInfo:
        try:
            status = self._path(key).stat()
        except FileNotFoundError:
            raise NotFoundError("file not found") from None
        except OSError as exc:
            raise StorageError() from exc
        return ObjectInfo(key, status.st_size, datetime.fromtimestamp(status.st_mtime, UTC))

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFoundError("file not found") from None
        except OSError as exc:
            raise StorageError() from exc
        return _chunks(handle, start, end)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError() from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            return
        for folder, _folders, files in os.walk(self.root):
            for name in files:
                if name.startswith(_TEMP_PREFIX):
                    continue
                key = Path(folder, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    try:
                        yield self.stat(key)
                    except NotFoundError:  # deleted meanwhile
                        continue

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(prefix=_TEMP_PREFIX, dir=self.root) as probe:
                probe.write(b"tinybase")
                probe.flush()
        except OSError as exc:
            raise StorageError(f"the folder {str(self.root)!r} is not writable: {exc}") from exc


def _chunks(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start
        while remaining is None or remaining > 0:
            size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
            chunk = handle.read(size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
