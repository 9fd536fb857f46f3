"""Field types of a collection: which options each accepts and which SQL column type holds it.

A field type is the single place that knows how one kind of value is stored (``column_type``)
and checked (``tinybase.collections.validation``). ``list[...]`` types are stored as JSON.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tinybase.db.types import UTCDateTime
from tinybase.records.values import ValueKind

__all__ = [
    "LIST_ITEM_TYPES",
    "OPTIONS",
    "FieldType",
    "allowed_options",
    "column_type",
]


class FieldType(StrEnum):
    """The type of a collection field, as written in a schema (``"type": "string"``)."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    EMAIL = "email"
    URL = "url"
    JSON = "json"
    SELECT = "select"
    RELATION = "relation"
    LIST_STRING = "list[string]"
    LIST_INTEGER = "list[integer]"
    LIST_NUMBER = "list[number]"
    LIST_BOOLEAN = "list[boolean]"
    FILE = "file"
    FILES = "files"

    @property
    def is_list(self) -> bool:
        return self.value.startswith("list[")

    @property
    def item_type(self) -> FieldType:
        """The type of one item of a ``list[...]`` type (the type itself otherwise)."""
        return LIST_ITEM_TYPES.get(self, self)

    @property
    def is_file(self) -> bool:
        """A file (or list of files): metadata in the column, bytes in the object store."""
        return self in (FieldType.FILE, FieldType.FILES)

    @property
    def is_textual(self) -> bool:
        return self in _TEXTUAL

    @property
    def is_numeric(self) -> bool:
        return self in (FieldType.INTEGER, FieldType.NUMBER)

    @property
    def value_kind(self) -> str:
        """The kind of value the record engine converts it to (a ``list[...]`` is JSON)."""
        return _VALUE_KINDS.get(self, ValueKind.TEXT)


_VALUE_KINDS: dict[FieldType, str] = {
    FieldType.INTEGER: ValueKind.INTEGER,
    FieldType.NUMBER: ValueKind.NUMBER,
    FieldType.BOOLEAN: ValueKind.BOOLEAN,
    FieldType.DATETIME: ValueKind.DATETIME,
    FieldType.DATE: ValueKind.DATE,
    FieldType.JSON: ValueKind.JSON,
    FieldType.RELATION: ValueKind.UUID,
    FieldType.LIST_STRING: ValueKind.JSON,
    FieldType.LIST_INTEGER: ValueKind.JSON,
    FieldType.LIST_NUMBER: ValueKind.JSON,
    FieldType.LIST_BOOLEAN: ValueKind.JSON,
    FieldType.FILE: ValueKind.FILE,
    FieldType.FILES: ValueKind.FILES,
}

LIST_ITEM_TYPES: dict[FieldType, FieldType] = {
    FieldType.LIST_STRING: FieldType.STRING,
    FieldType.LIST_INTEGER: FieldType.INTEGER,
    FieldType.LIST_NUMBER: FieldType.NUMBER,
    FieldType.LIST_BOOLEAN: FieldType.BOOLEAN,
}

_TEXTUAL = frozenset(
    {FieldType.STRING, FieldType.TEXT, FieldType.EMAIL, FieldType.URL, FieldType.SELECT}
)

#: Every option a field may carry, besides ``name`` and ``type``.
OPTIONS = (
    "required",
    "default",
    "unique",
    "index",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "values",
    "collection",
    "max_size",
    "mime_types",
    "thumbs",
)

_COMMON = frozenset({"required", "default", "unique", "index"})
_LENGTH = frozenset({"min_length", "max_length"})
_RANGE = frozenset({"min", "max"})

_EXTRA_OPTIONS: dict[FieldType, frozenset[str]] = {
    FieldType.STRING: _LENGTH | {"pattern"},
    FieldType.TEXT: _LENGTH | {"pattern"},
    FieldType.EMAIL: _LENGTH | {"pattern"},
    FieldType.URL: _LENGTH | {"pattern"},
    FieldType.INTEGER: _RANGE,
    FieldType.NUMBER: _RANGE,
    FieldType.BOOLEAN: frozenset(),
    FieldType.DATETIME: frozenset(),
    FieldType.DATE: frozenset(),
    FieldType.JSON: frozenset(),
    FieldType.SELECT: frozenset({"values"}),
    FieldType.RELATION: frozenset({"collection"}),
    # On lists, min_length/max_length bound the number of items, min/max bound each number,
    # pattern applies to each string.
    FieldType.LIST_STRING: _LENGTH | {"pattern"},
    FieldType.LIST_INTEGER: _LENGTH | _RANGE,
    FieldType.LIST_NUMBER: _LENGTH | _RANGE,
    FieldType.LIST_BOOLEAN: _LENGTH,
    # max_size: bytes per file; mime_types: the sniffed types accepted ("image/*" allowed);
    # thumbs: the thumbnail sizes offered besides 100x100.
    FieldType.FILE: frozenset({"max_size", "mime_types", "thumbs"}),
    FieldType.FILES: frozenset({"max_size", "mime_types", "thumbs"}),
}

# JSON values cannot be compared or indexed as such: unique/index make no sense on them.
_NOT_INDEXABLE = frozenset({FieldType.JSON, FieldType.FILE, FieldType.FILES, *LIST_ITEM_TYPES})


def allowed_options(field_type: FieldType) -> frozenset[str]:
    """The options a field of ``field_type`` accepts (unknown ones are a 422)."""
    options = _COMMON | _EXTRA_OPTIONS[field_type]
    if field_type in _NOT_INDEXABLE:
        options -= {"unique", "index"}
    if field_type.is_file:
        options -= {"default"}  # a default file would be one object shared by many rows
    return options


def _json_type() -> sa.types.TypeEngine:
    # JSONB on PostgreSQL: comparable (equality filters) and smaller to scan than json text.
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def column_type(field_type: FieldType) -> sa.types.TypeEngine:
    """The SQL column type that stores values of ``field_type`` (same on every dialect)."""
    if field_type.is_list or field_type in (FieldType.JSON, FieldType.FILE, FieldType.FILES):
        return _json_type()
    if field_type is FieldType.INTEGER:
        return sa.BigInteger()
    if field_type is FieldType.NUMBER:
        return sa.Double()
    if field_type is FieldType.BOOLEAN:
        return sa.Boolean()
    if field_type is FieldType.DATETIME:
        return UTCDateTime()
    if field_type is FieldType.DATE:
        return sa.Date()
    if field_type is FieldType.RELATION:
        return sa.String(36)
    return sa.Text()
