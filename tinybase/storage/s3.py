"""The S3-compatible object store, on boto3 (AWS's own SDK).

boto3 is the best-kept S3 client for Python (maintained by AWS, released weekly, used
against every S3-compatible server: MinIO, SeaweedFS, Ceph, R2, B2). Uploads go through its
transfer manager (``upload_fileobj``), which reads the source in parts and sends large
objects as a multipart upload, so a file is never held whole in memory; downloads iterate
the response body in chunks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig

from tinybase.errors import NotFoundError, StorageError
from tinybase.storage.base import CHUNK_SIZE, ObjectInfo, check_key

__all__ = ["S3Options", "S3Store"]

logger = logging.getLogger(__name__)

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
# Parts of 8 MiB: at most a few parts in memory at a time, whatever the file's size.
_TRANSFER = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=2)


@dataclass(frozen=True)
class S3Options:
    """Where the bucket is and how to sign requests to it."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = ""
    path_style: bool = True


class S3Store:
    """Objects in ``options.bucket``, under ``options.prefix``.

    Args:
        options: the bucket, endpoint and credentials.
    """

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self.bucket = options.bucket
        self.prefix = options.prefix.strip("/") + "/" if options.prefix.strip("/") else ""
        self.client: Any = _client(options)  # boto3's clients are built at run time

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, endpoint={self.options.endpoint_url!r})"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, source: BinaryIO) -> int:
        counted = _Counting(source)
        with _errors_mapped(key):
            self.client.upload_fileobj(counted, self.bucket, self._key(key), Config=_TRANSFER)
        return counted.size

    def stat(self, key: str) -> ObjectInfo:
        with _errors_mapped(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(key, int(head["ContentLength"]), head["LastModified"])

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            arguments["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with _errors_mapped(key):
            body = self.client.get_object(**arguments)["Body"]
        return _stream(body, key)

    def delete(self, key: str) -> None:
        with _errors_mapped(key, missing_ok=True):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        with _errors_mapped(prefix or "(all)"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self.prefix) :]
                    yield ObjectInfo(key, int(item["Size"]), item["LastModified"])

    def check(self) -> None:
        key = self._key("_tinybase-check")
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"tinybase")
            self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise StorageError(f"bucket {self.bucket!r}: {_reason(exc)}") from exc


class _Counting:
    """A read-only file wrapper that counts the bytes read (the size stored)."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.size += len(chunk)
        return chunk


def _stream(body: Any, key: str) -> Iterator[bytes]:
    try:
        with _errors_mapped(key):
            yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()


@contextlib.contextmanager
def _errors_mapped(key: str, *, missing_ok: bool = False) -> Iterator[None]:
    """botocore's errors as TinyBase's: a missing key is a 404, anything else a 503."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            if missing_ok:
                return
            raise NotFoundError("file not found") from None
        logger.error("S3 store: %s failed: %s", key, _reason(exc))
        raise StorageError() from exc
    except botocore.exceptions.BotoCoreError as exc:
        logger.error("S3 store: %s failed: %s", key, _reason(exc))
        raise StorageError() from exc


def _client(options: S3Options) -> Any:
    """A boto3 S3 client for ``options``.

    Raises:
        StorageError: the settings cannot make a client (a malformed endpoint URL, say).
    """
    try:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=options.endpoint_url or None,
            region_name=options.region or None,
            aws_access_key_id=options.access_key_id or None,
            aws_secret_access_key=options.secret_access_key or None,
            config=BotoConfig(
                s3={"addressing_style": "path" if options.path_style else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
    except (ValueError, botocore.exceptions.BotoCoreError) as exc:
        raise StorageError(f"the S3 settings are not usable: {exc}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".strip()
    return str(exc)
