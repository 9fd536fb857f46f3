"""Client values converted to a column's Python type before they are bound.

Query strings and form bodies carry text; JSON bodies carry numbers, booleans and strings.
Both go through :func:`convert`, so a filter value, a cursor value and a written value are
checked the same way and a bad one is reported with the column's name (never a 500 from the
driver).
"""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from tinybase.data.codecs import column_kind
from tinybase.records.file_columns import StoredFile
from tinybase.utils import is_unicode

__all__ = ["MAX_JSON_DEPTH", "ValueKind", "check_json", "convert", "value_kind"]


class ValueKind:
    """The families of column types the record engine distinguishes."""

    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    JSON = "json"
    UUID = "uuid"
    TEXT = "text"
    FILE = "file"
    FILES = "files"


# The data layer's column kinds in the engine's vocabulary; anything else is text.
_FROM_COLUMN_KIND = {
    "int": ValueKind.INTEGER,
    "float": ValueKind.NUMBER,
    "bool": ValueKind.BOOLEAN,
    "datetime": ValueKind.DATETIME,
    "date": ValueKind.DATE,
    "json": ValueKind.JSON,
}


def value_kind(column: sa.ColumnElement[Any]) -> str:
    """The :class:`ValueKind` of a column: :func:`tinybase.data.codecs.column_kind`, plus the
    two families the engine tells apart and the data layer does not (UUIDs, decimals)."""
    column_type = column.type
    if isinstance(column_type, sa.types.TypeDecorator):
        if _is_uuid_decorator(column_type):
            return ValueKind.UUID
        column_type = column_type.impl_instance
    if isinstance(column_type, sa.Uuid):
        return ValueKind.UUID
    if isinstance(column_type, sa.Numeric):
        return ValueKind.NUMBER
    return _FROM_COLUMN_KIND.get(column_kind(column_type), ValueKind.TEXT)


def _is_uuid_decorator(column_type: sa.types.TypeDecorator[Any]) -> bool:
    try:
        return column_type.python_type is uuid.UUID
    except NotImplementedError:
        return type(column_type).__name__ == "UUIDText"


def convert(kind: str, value: Any, *, strict: bool = False) -> Any:
    """Convert a client value to the Python type of a column of ``kind``.

    The one conversion of client values in TinyBase: record APIs (bodies, filters, cursors)
    and collection fields (:mod:`tinybase.collections.validation`, which adds each field's
    own checks on top) go through it.

    Args:
        kind: a :class:`ValueKind`.
        value: text (query strings, forms) or a JSON value.
        strict: the value came as JSON and must already have the JSON type of its kind
            (no text for numbers or booleans, no numbers for text): collection fields.

    Returns:
        The converted value; ``None`` stays ``None``.

    Raises:
        ValueError: with a short reason when the value does not fit the column.
    """
    if value is None:
        return None
    if strict and not isinstance(value, _JSON_TYPES[kind]):
        raise ValueError(_EXPECTED[kind])
    return _CONVERTERS[kind](value)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and len(value) <= 32:
        try:
            number = int(value.strip(), 10)
        except ValueError:
            raise ValueError("expected an integer") from None
    if number is None:
        raise ValueError("expected an integer")
    # Past 64 bits the drivers raise OverflowError (a 500): refuse it here, named.
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueError("out of the 64-bit integer range")
    return number


def _to_number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("expected a number") from None
    else:
        raise ValueError("expected a number")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("expected a finite number")
    if isinstance(number, int) and not _FLOAT_MIN <= number <= _FLOAT_MAX:
        # Past a double's range the drivers raise OverflowError on bind (a 500).
        raise ValueError("expected a finite number")
    return number


_FLOAT_MAX = int(sys.float_info.max)
_FLOAT_MIN = -_FLOAT_MAX


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ValueError("expected a boolean")


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            raise ValueError("expected an ISO 8601 datetime") from None
    else:
        raise ValueError("expected an ISO 8601 datetime")
    # Naive input is taken as UTC: TinyBase stores timezone-aware UTC datetimes.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise ValueError("the datetime is out of range in UTC") from None


def _to_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("expected an ISO 8601 date")


def _to_uuid_text(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError("expected a UUID") from None


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        _check_encodable(value)
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError("expected a string")


MAX_JSON_DEPTH = 64
"""How deep arrays and objects may nest in a ``json`` column's value.

Far more than data needs, and far below what breaks: the standard library's encoder and
decoder recurse (a :class:`RecursionError` near 1000 levels), and orjson encodes at most 255
levels, so a deeper stored value could never be read back.
"""


def check_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Check that ``value`` is plain JSON data that can be stored and read back.

    Iterative, not recursive: the value may be nested as deep as the body parser allowed.

    Raises:
        ValueError: nested deeper than ``max_depth``, an object key that is not a string, a
            number that is not finite, an integer past 64 bits (orjson cannot encode it, so
            every read of the row would fail), text with a lone surrogate, or a value of no
            JSON type (the reason, short).
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise ValueError(f"nested deeper than {max_depth} levels")
            if isinstance(item, list):
                pending.extend((child, depth + 1) for child in item)
                continue
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError("JSON object keys must be strings")
                _check_encodable(key)
                pending.append((child, depth + 1))
        elif isinstance(item, str):
            _check_encodable(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("JSON numbers must be finite")
        elif (
            isinstance(item, int)
            and not isinstance(item, bool)
            and not _JSON_INT_MIN <= item <= _JSON_INT_MAX
        ):
            raise ValueError("JSON integers must fit in 64 bits")
        elif item is not None and not isinstance(item, str | int | float | bool):
            raise ValueError(f"{type(item).__name__} is not a JSON value")


# What orjson, which encodes every response, can encode: signed and unsigned 64-bit integers.
_JSON_INT_MIN, _JSON_INT_MAX = -(2**63), 2**64 - 1


def _check_encodable(text: str) -> None:
    """Refuse text that cannot be stored: a lone UTF-16 surrogate has no UTF-8 encoding, and
    SQLite and PostgreSQL refuse it on bind (Python callers can pass one; JSON can spell one).

    Raises:
        ValueError: ``text`` holds a lone surrogate.
    """
    if not is_unicode(text):
        raise ValueError("text with a lone UTF-16 surrogate cannot be stored")


def _to_file(value: Any) -> dict[str, Any]:
    # Only an upload the server stored itself: metadata a client sends (another record's
    # file id, say) is refused, so no record can point at an object it did not upload.
    if not isinstance(value, StoredFile):
        raise ValueError("expected a file upload ({filename?, content_type?, data: base64})")
    return value.metadata()


def _to_files(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError("expected a list of file uploads")
    return [_to_file(item) for item in value]


def _to_json(value: Any) -> Any:
    check_json(value)
    return value


# What JSON (and Python callers) may send for each kind in strict mode; bool is an int to
# Python, so it is refused separately (see _to_integer, _to_number).
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    ValueKind.INTEGER: (int, float),
    ValueKind.NUMBER: (int, float),
    ValueKind.BOOLEAN: bool,
    ValueKind.DATETIME: (str, datetime),
    ValueKind.DATE: (str, date),
    ValueKind.UUID: (str, uuid.UUID),
    ValueKind.TEXT: str,
    ValueKind.JSON: object,
    ValueKind.FILE: StoredFile,
    ValueKind.FILES: list,
}
_EXPECTED = {
    ValueKind.INTEGER: "expected an integer",
    ValueKind.NUMBER: "expected a number",
    ValueKind.BOOLEAN: "expected a boolean",
    ValueKind.DATETIME: "expected an ISO 8601 datetime",
    ValueKind.DATE: "expected an ISO 8601 date",
    ValueKind.UUID: "expected a UUID",
    ValueKind.TEXT: "expected a string",
    ValueKind.JSON: "expected a JSON value",
    ValueKind.FILE: "expected a file upload",
    ValueKind.FILES: "expected a list of file uploads",
}

_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    ValueKind.INTEGER: _to_integer,
    ValueKind.NUMBER: _to_number,
    ValueKind.BOOLEAN: _to_boolean,
    ValueKind.DATETIME: _to_datetime,
    ValueKind.DATE: _to_date,
    ValueKind.UUID: _to_uuid_text,
    ValueKind.TEXT: _to_text,
    ValueKind.JSON: _to_json,
    ValueKind.FILE: _to_file,
    ValueKind.FILES: _to_files,
}
