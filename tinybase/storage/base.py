"""The object store interface: where file columns keep their bytes.

A key is a relative path of ``[A-Za-z0-9._-]`` segments joined by ``/`` (built by TinyBase,
never from a client's filename). Objects are written once and never changed: an upload gets
a fresh key, so a key's bytes are immutable (downloads use the key as their ETag).

Errors: :class:`tinybase.errors.StorageError` (503) when the store fails,
:class:`tinybase.errors.NotFoundError` (404) for a missing object.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

__all__ = [
    "CHUNK_SIZE",
    "ObjectInfo",
    "ObjectStore",
    "check_key",
]

CHUNK_SIZE = 256 * 1024
"""The size of the pieces uploads are copied and downloads are streamed in."""

_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object: its key, its size in bytes and when it was written (UTC)."""

    key: str
    size: int
    modified: datetime


def check_key(key: str) -> str:
    """``key`` if it is a safe relative key (no ``..``, no absolute path, no odd bytes).

    Raises:
        ValueError: the key is not safe (a bug: keys are built by TinyBase).
    """
    if len(key) > 512 or not _KEY.match(key):
        raise ValueError(f"unsafe object key {key[:80]!r}")
    return key


class ObjectStore(Protocol):
    """Where objects live: a local directory or an S3-compatible bucket.

    Every method blocks (disk or network): callers run them off the event loop.
    """

    def put(self, key: str, source: BinaryIO) -> int:
        """Store the rest of ``source`` (read in chunks, never whole) under ``key``; return
        the number of bytes stored.

        Raises:
            StorageError: the store refused or failed.
        """
        ...

    def stat(self, key: str) -> ObjectInfo:
        """The object's size and time.

        Raises:
            NotFoundError: no such object.
            StorageError: the store failed.
        """
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The object's bytes from ``start`` up to ``end`` (exclusive; None: to the end), in
        chunks of at most :data:`CHUNK_SIZE`.

        Raises:
            NotFoundError: no such object.
            StorageError: the store failed.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the object (no error when it is already gone).

        Raises:
            StorageError: the store failed.
        """
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``.

        Raises:
            StorageError: the store failed.
        """
        ...

    def check(self) -> None:
        """Write, read back and delete a small object: the store is reachable and writable.

        Raises:
            StorageError: it is not (the message says why, safe to show to an admin).
        """
        ...
