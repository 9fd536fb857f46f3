"""What realtime carries: one committed change of one row, from this process or another.

An :class:`Event` is a :class:`tinybase.records.changes.RecordChange` without its writer (no
subscriber learns who wrote), stamped with the wall-clock time of its commit (for the
commit-to-delivery latency) and the process it came from. Between processes it travels as
JSON (:func:`encode_event`, :func:`decode_event`); values then arrive as JSON values
(timestamps as ISO 8601 text), and :func:`typed_row` brings them back to the column types
so that filters and rules see what a local event would show them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from tinybase.records.changes import RecordChange
from tinybase.records.values import convert

__all__ = ["Event", "Operation", "decode_event", "encode_event", "typed_row"]

Operation = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class Event:
    """One committed write to one row.

    Attributes:
        table: the table written.
        operation: ``create``, ``update`` or ``delete``.
        record_id: the row's primary key.
        before: every column before (None for a create).
        after: every column after (None for a delete).
        committed_at: ``time.time()`` right after the commit.
        origin: the id of the process that wrote it.
    """

    table: str
    operation: Operation
    record_id: Any
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    committed_at: float
    origin: str

    @classmethod
    def of(cls, change: RecordChange, origin: str) -> Event:
        """The event of a change committed in this process just now."""
        return cls(
            change.table,
            change.operation,
            change.record_id,
            change.before,
            change.after,
            time.time(),
            origin,
        )

    @property
    def row(self) -> Mapping[str, Any]:
        """The row subscribers see: after a create or update, before a delete."""
        row = self.after if self.after is not None else self.before
        assert row is not None  # a change has at least one of them
        return row


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)  # Decimal and other exact types: their text


def encode_event(event: Event) -> bytes:
    """The event as compact JSON (keys: t, o, i, b, a, c, p)."""
    data = {
        "t": event.table,
        "o": event.operation,
        "i": event.record_id,
        "b": event.before,
        "a": event.after,
        "c": event.committed_at,
        "p": event.origin,
    }
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


def decode_event(payload: bytes | str) -> Event:
    """An event from :func:`encode_event`'s JSON (values still JSON-typed: see
    :func:`typed_row`).

    Raises:
        ValueError: not such JSON.
    """
    data = orjson.loads(payload)
    try:
        return Event(
            data["t"], data["o"], data["i"], data["b"], data["a"], float(data["c"]), data["p"]
        )
    except (KeyError, TypeError) as exc:
        raise ValueError("not a realtime event") from exc


def typed_row(row: Mapping[str, Any], kinds: Mapping[str, str]) -> dict[str, Any]:
    """``row`` with each value converted to its column's type (as far as it converts)."""
    typed: dict[str, Any] = {}
    for name, value in row.items():
        kind = kinds.get(name)
        try:
            typed[name] = value if kind is None else convert(kind, value)
        except (ValueError, TypeError):
            typed[name] = value
    return typed
