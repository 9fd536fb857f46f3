"""The ``tinybase-sdk`` wheel that TinyBase installs into every function environment.

The SDK ships inside TinyBase (the ``tinybase_sdk`` package beside ``tinybase``); this
module builds a wheel of exactly that code, once per content, into a folder named by its
hash (so an upgraded SDK is a new path, and uv reinstalls it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
import zipfile
from pathlib import Path

import tinybase_sdk

__all__ = ["REQUIRES", "sdk_wheel"]

REQUIRES = ("httpx>=0.27", "pydantic>=2.7")
"""The SDK's dependencies (as in sdk/pyproject.toml; a test keeps them equal)."""
_TAG = "py3-none-any"


def sdk_wheel(folder: Path) -> Path:
    """The path of the bundled SDK's wheel under ``folder``, built if missing."""
    files = _package_files()
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + data)
    version = tinybase_sdk.__version__
    target = folder / f"sdk-{digest.hexdigest()[:16]}" / f"tinybase_sdk-{version}-{_TAG}.whl"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}-{uuid.uuid4().hex}.tmp")
        _write_wheel(partial, version, files)
        partial.replace(target)  # atomic: concurrent builders never see half a wheel
    return target


def _package_files() -> list[tuple[str, bytes]]:
    root = Path(tinybase_sdk.__file__).parent
    return [(f"tinybase_sdk/{path.name}", path.read_bytes()) for path in sorted(root.glob("*.py"))]


def _write_wheel(path: Path, version: str, files: list[tuple[str, bytes]]) -> None:
    info = f"tinybase_sdk-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            "Name: tinybase-sdk",
            f"Version: {version}",
            "Requires-Python: >=3.11",
            *(f"Requires-Dist: {requirement}" for requirement in REQUIRES),
            "",
        ]
    )
    wheel = f"Wheel-Version: 1.0\nGenerator: tinybase\nRoot-Is-Purelib: true\nTag: {_TAG}\n"
    entries = [*files, (f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel.encode())]
    record = [f"{name},sha256={_hash(data)},{len(data)}" for name, data in entries]
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")


def _hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
