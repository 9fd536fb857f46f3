"""Small shared values fixed by the public Python API: auth levels, access presets, time, ids."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime
from enum import Enum

__all__ = ["AccessRule", "AuthLevel", "is_unicode", "utcnow", "uuid7"]


class AuthLevel(str, Enum):
    """Who may call a function."""

    PUBLIC = "public"
    AUTH = "auth"
    ADMIN = "admin"


class AccessRule(str, Enum):
    """The per-operation access presets of a collection (``options.access``)."""

    PUBLIC = "public"
    AUTH = "auth"
    OWNER = "owner"
    ADMIN = "admin"


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class _Uuid7Clock:
    """Makes ids from one process strictly increasing, even within one millisecond.

    The 12-bit ``rand_a`` field holds a counter that restarts from a random point each
    millisecond (RFC 9562, method 1); when it overflows, the timestamp moves on by one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)

    def next(self) -> tuple[int, int]:
        with self._lock:
            milliseconds = time.time_ns() // 1_000_000
            last_ms, last_counter = self._last
            if milliseconds > last_ms:
                counter = int.from_bytes(os.urandom(2)) & 0x3FF
            else:
                milliseconds, counter = last_ms, last_counter + 1
                if counter > 0xFFF:
                    milliseconds, counter = last_ms + 1, 0
            self._last = (milliseconds, counter)
            return milliseconds, counter


_clock = _Uuid7Clock()


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7).

    Ids made later sort later (as text too), so the primary key doubles as a stable
    pagination cursor.
    """
    milliseconds, counter = _clock.next()
    value = (milliseconds & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | counter << 64  # version 7, then the counter in rand_a
    value |= 0x2 << 62 | int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)  # variant, rand_b
    return uuid.UUID(int=value)


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8: JSON can spell a lone UTF-16 surrogate
    (``"\\ud800"``) that Python decodes but no database, hash or encoder takes."""
    if text.isascii():  # O(1) in CPython
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
