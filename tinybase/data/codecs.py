"""Python types <-> column types, and the per-column value converters.

Each column has a *kind* (``int``, ``float``, ``str``, ``bool``, ``bytes``, ``datetime``,
``date``, ``json`` or ``any``) derived from its SQLAlchemy type. A kind gives a *dumper*
(checks a Python value and turns it into a driver parameter) and a *loader* (turns what the
driver returns into the Python value), so SQLite and PostgreSQL return the same values:

- ``bool`` is stored as 0/1 on SQLite and returned as ``bool``;
- ``datetime`` is stored in UTC (ISO 8601 text on SQLite, ``timestamptz`` on PostgreSQL) and
  returned timezone-aware in UTC; a naive datetime is taken to be UTC;
- ``date`` is ISO text on SQLite; ``dict``/``list`` are JSON (JSONB on PostgreSQL);
- an ``Enum`` is stored by value and returned as the Enum when the row class says so.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tinybase.data.errors import InvalidDataError

__all__ = [
    "Dumper",
    "Loader",
    "column_kind",
    "dump_argument",
    "dumper_for",
    "loader_for",
    "loads_json",
    "python_type_for_kind",
    "sql_type_for",
    "unwrap_optional",
]

Dumper = Callable[[Any], Any]
Loader = Callable[[Any], Any]

_UTC = dt.UTC


def unwrap_optional(annotation: Any) -> Any:
    """``X | None`` and ``Optional[X]`` -> ``X``; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def sql_type_for(annotation: Any) -> sa.types.TypeEngine:
    """The column type for a field annotation.

    Raises:
        InvalidDataError: the annotation is not one of the supported types.
    """
    python_type = unwrap_optional(annotation)
    origin = typing.get_origin(python_type) or python_type
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        values = {type(member.value) for member in origin}
        origin = values.pop() if len(values) == 1 else str
    if origin is bool:
        return sa.Boolean()
    if origin is int:
        return sa.Integer()
    if origin is float:
        return sa.Float()
    if origin is str:
        return sa.Text()
    if origin in (bytes, bytearray):
        return sa.LargeBinary()
    if origin is dt.datetime:
        return sa.DateTime(timezone=True)
    if origin is dt.date:
        return sa.Date()
    if origin in (dict, list):
        return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    raise InvalidDataError(f"unsupported field type {annotation!r}")


# Checked in order; the first matching SQLAlchemy type class names the kind.
_TYPE_KINDS: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "bool"),
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.JSON, "json"),
    (sa.LargeBinary, "bytes"),
    (sa.Integer, "int"),
    (sa.Float, "float"),
    (sa.String, "str"),
)


def column_kind(column_type: sa.types.TypeEngine) -> str:
    """The kind of a (possibly reflected) column type."""
    for type_class, kind in _TYPE_KINDS:
        if isinstance(column_type, type_class):
            return kind
    return "any"


_KIND_TYPES: dict[str, Any] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "bytes": bytes,
    "datetime": dt.datetime,
    "date": dt.date,
    "json": typing.Any,
    "any": typing.Any,
}


def python_type_for_kind(kind: str) -> Any:
    """The Python annotation used for a column of ``kind`` in generated dataclasses."""
    return _KIND_TYPES[kind]


# -- dumpers: Python value -> driver parameter ----------------------------------------------


def _reject(kind: str, value: Any) -> InvalidDataError:
    return InvalidDataError(f"expected {kind}, got {type(value).__name__} {value!r}")


def _dump_int(value: Any) -> Any:
    if type(value) is int:  # the common case first (bool is a subclass: checked below)
        return value
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _reject("int", value)


def _dump_float(value: Any) -> Any:
    if type(value) is float:
        return value
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise _reject("float", value)


def _dump_str(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, str):
        return value
    raise _reject("str", value)


def _dump_bool(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _reject("bool", value)


def _dump_bytes(value: Any) -> Any:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise _reject("bytes", value)


def _to_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _reject("datetime", value) from None
    if not isinstance(value, dt.datetime):
        raise _reject("datetime", value)
    if value.tzinfo is None:
        return value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC)


def _dump_datetime_text(value: Any) -> Any:
    return None if value is None else _to_utc(value).isoformat(sep=" ")


def _dump_datetime(value: Any) -> Any:
    return None if value is None else _to_utc(value)


def _to_date(value: Any) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise _reject("date", value) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise _reject("date", value)


def _dump_date_text(value: Any) -> Any:
    return None if value is None else _to_date(value).isoformat()


def _dump_date(value: Any) -> Any:
    return None if value is None else _to_date(value)


def _dump_json(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise InvalidDataError(f"value is not JSON serializable: {value!r}") from exc


def _dump_any(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


_SQLITE_DUMPERS: dict[str, Dumper] = {
    "int": _dump_int,
    "float": _dump_float,
    "str": _dump_str,
    "bool": _dump_bool,
    "bytes": _dump_bytes,
    "datetime": _dump_datetime_text,
    "date": _dump_date_text,
    "json": _dump_json,
    "any": _dump_any,
}
_DRIVER_DUMPERS = {**_SQLITE_DUMPERS, "datetime": _dump_datetime, "date": _dump_date}


def dumper_for(kind: str, dialect: str) -> Dumper:
    """The dumper of a column kind on ``dialect`` (``"sqlite"`` stores dates as text)."""
    return (_SQLITE_DUMPERS if dialect == "sqlite" else _DRIVER_DUMPERS)[kind]


_PLAIN_ARGUMENTS = frozenset({int, str, float, bytes, type(None)})


def dump_argument(value: Any, dialect: str) -> Any:
    """Convert a ``where_args``/``params`` value the way a column value of its type is stored."""
    if type(value) in _PLAIN_ARGUMENTS:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return dumper_for("datetime", dialect)(value)
    if isinstance(value, dt.date):
        return dumper_for("date", dialect)(value)
    return value


# -- loaders: driver value -> Python value --------------------------------------------------


def _load_bool(value: Any) -> Any:
    return value if value is None else bool(value)


def _load_datetime(value: Any) -> Any:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    return value


def _load_date(value: Any) -> Any:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _load_json(value: Any) -> Any:
    return loads_json(value) if isinstance(value, str | bytes) else value


# What orjson, which encodes every response, can encode: signed and unsigned 64-bit integers.
_JSON_INT_MIN, _JSON_INT_MAX = -(2**63), 2**64 - 1


def loads_json(text: str | bytes) -> Any:
    """A stored JSON value, with integers past 64 bits read as floats (as orjson parses them).

    PostgreSQL's ``jsonb`` stores ``1e30`` as the integer it equals, and a stored value may
    hold any integer: read as a Python ``int``, orjson could not encode it, and every read
    of the row was a 500. The engines of both dialects decode JSON columns with this.
    """
    return json.loads(text, parse_int=_json_int)


def _json_int(text: str) -> int | float:
    number = int(text)
    return number if _JSON_INT_MIN <= number <= _JSON_INT_MAX else float(text)


def _load_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) else value


_SQLITE_LOADERS: dict[str, Loader | None] = {
    "bool": _load_bool,
    "datetime": _load_datetime,
    "date": _load_date,
    "json": _load_json,
    "float": _load_float,
}
_DRIVER_LOADERS: dict[str, Loader | None] = {"datetime": _load_datetime, "json": _load_json}


def loader_for(kind: str, dialect: str, annotation: Any = None) -> Loader | None:
    """The loader of a column kind, or None when the driver value is already right.

    ``annotation`` is the row class's field annotation: an Enum there wraps the value.
    """
    loaders = _SQLITE_LOADERS if dialect == "sqlite" else _DRIVER_LOADERS
    base = loaders.get(kind)
    target = unwrap_optional(annotation)
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return _enum_loader(target, base)
    return base


def _enum_loader(enum_type: type[enum.Enum], base: Loader | None) -> Loader:
    def load(value: Any) -> Any:
        if value is None:
            return None
        return enum_type(base(value) if base else value)

    return load
