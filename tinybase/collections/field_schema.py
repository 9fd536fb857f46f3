"""A collection's schema and options, parsed from the JSON an admin sends.

``{"fields": [{"name": "title", "type": "string", "required": true, "max_length": 200}]}``

Parsing checks everything up front and reports every problem at once as a 422 in FastAPI's
list shape: an unknown type or option is named, an option that does not apply to the type is
named, a bad default is named. The stored form (``CollectionSchema.to_json``) omits options
left at their defaults.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from tinybase.collections.fields import OPTIONS, FieldType, allowed_options
from tinybase.collections.names import collection_name_problem, field_name_problem
from tinybase.collections.validation import FieldValueError, convert_value
from tinybase.errors import ValidationError
from tinybase.records.file_columns import FileColumn, thumbs_problem

__all__ = [
    "CollectionSchema",
    "FieldSchema",
    "parse_schema",
    "schema_errors",
]

_FIELD_KEYS = frozenset({"name", "type", *OPTIONS})
#: Bounds of numeric options: they end up in CHECK constraints, where an absurd number
#: (1e30, 1e400) would overflow the database's integer or float types.
MAX_LENGTH_OPTION = 2**31 - 1
_INT64 = (-(2**63), 2**63 - 1)
#: Keys accepted next to ``fields`` in an update: not stored, they steer the change.
CHANGE_KEYS = frozenset({"drop_fields"})


class FieldSchema(BaseModel):
    """One field: a typed column of the collection's table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: FieldType
    required: bool = False
    default: Any = None
    unique: bool = False
    index: bool = False
    min: int | float | None = None
    max: int | float | None = None
    min_length: int | None = Field(default=None, ge=0, le=MAX_LENGTH_OPTION)
    max_length: int | None = Field(default=None, ge=1, le=MAX_LENGTH_OPTION)
    pattern: str | None = None
    values: tuple[str, ...] | None = None
    collection: str | None = None
    max_size: int | None = Field(default=None, ge=1, le=2**53)
    mime_types: tuple[str, ...] | None = None
    thumbs: tuple[str, ...] | None = None

    def file_column(self) -> FileColumn:
        """The field as the record engine's file column (a ``file``/``files`` field)."""
        return FileColumn(
            self.name,
            self.type is FieldType.FILES,
            self.max_size,
            tuple(self.mime_types or ()),
            tuple(self.thumbs or ()),
        )


class CollectionSchema(BaseModel):
    """The fields of a collection, in column order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: tuple[FieldSchema, ...] = ()

    def by_name(self) -> dict[str, FieldSchema]:
        """The fields keyed by name."""
        return {field.name: field for field in self.fields}

    def to_json(self) -> dict[str, Any]:
        """The stored form: each field with only the options that differ from the defaults."""
        return {"fields": [f.model_dump(mode="json", exclude_defaults=True) for f in self.fields]}

    def file_columns(self) -> tuple[FileColumn, ...]:
        """The ``file`` and ``files`` fields as file columns."""
        return tuple(f.file_column() for f in self.fields if f.type.is_file)

    def relations(self) -> dict[str, str]:
        """Relation fields and the collections they point to."""
        return {f.name: f.collection for f in self.fields if f.collection is not None}


def parse_schema(raw: Any, *, loc: Sequence[str | int] = ("body", "schema")) -> CollectionSchema:
    """Parse and check a schema.

    Args:
        raw: ``{"fields": [...]}`` (``drop_fields`` is tolerated and ignored here).
        loc: where the schema sits in the request, for error locations.

    Raises:
        ValidationError: 422 listing every problem, each naming the field and option.
    """
    errors = schema_errors(raw, loc=loc)
    if errors:
        raise ValidationError(errors)
    return CollectionSchema(fields=tuple(FieldSchema(**field) for field in raw.get("fields", ())))


def schema_errors(raw: Any, *, loc: Sequence[str | int]) -> list[dict[str, Any]]:
    """Every problem of a raw schema, as FastAPI-shaped error entries (empty when valid)."""
    if not isinstance(raw, dict):
        return [_error(loc, "the schema must be an object with a 'fields' list", "type")]
    errors = [
        _error([*loc, key], f"unknown schema key {key!r}", "extra_forbidden")
        for key in raw
        if key not in ("fields", *CHANGE_KEYS)
    ]
    fields = raw.get("fields", [])
    if not isinstance(fields, list):
        return [*errors, _error([*loc, "fields"], "'fields' must be a list", "type")]
    seen: set[str] = set()
    for position, field in enumerate(fields):
        field_loc = [*loc, "fields", position]
        errors.extend(_field_errors(field, field_loc))
        name = field.get("name") if isinstance(field, dict) else None
        if isinstance(name, str) and name in seen:
            errors.append(_error([*field_loc, "name"], f"duplicate field name {name!r}"))
        if isinstance(name, str):
            seen.add(name)
    return errors


def _field_errors(raw: Any, loc: list[str | int]) -> list[dict[str, Any]]:
    if not isinstance(raw, dict):
        return [_error(loc, "a field must be an object with 'name' and 'type'", "type")]
    errors = [
        _error([*loc, key], f"unknown field option {key!r}", "extra_forbidden")
        for key in raw
        if key not in _FIELD_KEYS
    ]
    name_problem = field_name_problem(raw.get("name"))
    if name_problem:
        errors.append(_error([*loc, "name"], name_problem))
    type_name = raw.get("type")
    try:
        field_type = FieldType(type_name)
    except ValueError:
        known = ", ".join(t.value for t in FieldType)
        return [*errors, _error([*loc, "type"], f"unknown field type {type_name!r} ({known})")]
    errors += [
        _error([*loc, key], f"option {key!r} does not apply to type {field_type.value!r}")
        for key in raw
        if key in OPTIONS
        and key not in allowed_options(field_type)
        and raw[key] is not None
        and raw[key] is not False
    ]
    if errors:
        return errors
    try:
        field = FieldSchema(**raw)
    except PydanticValidationError as exc:
        return [_error([*loc, *e["loc"]], e["msg"], e["type"]) for e in exc.errors()]
    return [_error([*loc, key], message) for key, message in _option_problems(field)]


def _option_problems(field: FieldSchema) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key in ("min", "max"):
        problem = _bound_problem(field, getattr(field, key))
        if problem:
            problems.append((key, problem))
    if problems:
        return problems
    if field.min is not None and field.max is not None and field.min > field.max:
        problems.append(("min", "min is greater than max"))
    if (
        field.min_length is not None
        and field.max_length is not None
        and field.min_length > field.max_length
    ):
        problems.append(("min_length", "min_length is greater than max_length"))
    if field.pattern is not None:
        try:
            re.compile(field.pattern)
        except (re.error, RecursionError, OverflowError) as exc:  # see records.filters
            problems.append(("pattern", f"invalid regular expression: {exc}"))
    if field.thumbs is not None and (problem := thumbs_problem(field.thumbs)):
        problems.append(("thumbs", problem))
    distinct = field.values is not None and len(set(field.values)) == len(field.values)
    if field.type is FieldType.SELECT and not (field.values and distinct):
        problems.append(("values", "a select needs a non-empty list of distinct values"))
    if field.type is FieldType.RELATION:
        problem = collection_name_problem(field.collection) if field.collection else None
        if not field.collection or problem:
            problems.append(("collection", problem or "a relation needs 'collection'"))
    if field.default is not None and not problems:
        try:
            convert_value(field, field.default)
        except FieldValueError as exc:
            problems.append(("default", f"invalid default: {exc}"))
    return problems


def _bound_problem(field: FieldSchema, bound: float | None) -> str | None:
    if bound is None:
        return None
    if isinstance(bound, float) and not math.isfinite(bound):
        return "must be a finite number"
    integral = field.type.item_type is FieldType.INTEGER
    if integral and not _INT64[0] <= bound <= _INT64[1]:
        return "out of the 64-bit integer range"
    if not integral and abs(bound) > 1e308:
        return "out of the range of a double"
    return None


def _error(loc: Sequence[str | int], message: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": list(loc), "msg": message, "type": kind}
