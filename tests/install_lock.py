"""One installer at a time for the client caches the test workers share (``pytest -n``)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["install_lock"]


@contextmanager
def install_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if missing) until the block exits.

    The workers of one run install npm and PyPI clients into the same cache folders under
    the home directory: the first one installs, the others wait and find the install done.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
