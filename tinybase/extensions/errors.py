"""The exception a before-record hook raises to refuse a write (docs/extensions.md)."""

from __future__ import annotations

from typing import Any

from tinybase.errors import TinyBaseError

__all__ = ["RecordRejected"]


class RecordRejected(TinyBaseError):
    """Raised by a before-record hook to refuse a write: the client gets ``status_code``
    (a 4xx, 400 unless given) and ``{"detail": detail}``; nothing of the write remains."""

    def __init__(self, detail: Any = "The write was refused", status_code: int = 400) -> None:
        if not 400 <= status_code < 500:
            raise ValueError(f"RecordRejected needs a 4xx status, not {status_code}")
        super().__init__(detail)
        self.status_code = status_code
