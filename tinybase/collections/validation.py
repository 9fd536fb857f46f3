"""Record data → typed values, checked against a collection's schema.

Errors are :class:`tinybase.errors.ValidationError` in FastAPI's list shape, one entry per
bad field, each naming the field in ``loc`` (``["body", "data", "<field>"]``). Unknown fields
are rejected, never dropped: a typo must not lose data silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from tinybase.collections.fields import FieldType
from tinybase.errors import ValidationError
from tinybase.records.values import convert

if TYPE_CHECKING:
    from tinybase.collections.field_schema import CollectionSchema, FieldSchema

__all__ = ["FieldValueError", "convert_value", "field_error", "validate_record_data"]

_LOC = ("body", "data")


class FieldValueError(ValueError):
    """One value does not fit its field; the message is safe to show."""


def field_error(field: str, message: str, *, kind: str = "value_error") -> dict[str, Any]:
    """One entry of a 422 ``detail`` list about a record field."""
    return {"loc": [*_LOC, field], "msg": message, "type": kind}


def validate_record_data(
    schema: CollectionSchema,
    data: Any,
    *,
    partial: bool = False,
    fields: Mapping[str, FieldSchema] | None = None,
) -> dict[str, Any]:
    """Check record ``data`` against ``schema`` and return the typed values to store.

    Args:
        schema: the collection's current schema.
        data: the client's ``data`` object.
        partial: True for an update (only the given fields are checked and returned); False
            for a create (defaults fill missing fields; missing required fields are errors).
        fields: ``schema.by_name()``, from a caller that keeps it (one per write is a cost).

    Raises:
        ValidationError: 422 listing every bad, missing or unknown field.
    """
    if not isinstance(data, dict):
        raise ValidationError([{"loc": list(_LOC), "msg": "must be an object", "type": "type"}])
    if fields is None:
        fields = schema.by_name()
    errors = [
        field_error(str(name), f"unknown field {name!r}", kind="extra_forbidden")
        for name in data
        if name not in fields
    ]
    values: dict[str, Any] = {}
    for field in schema.fields:
        try:
            if field.name in data:
                values[field.name] = _checked(field, data[field.name])
            elif not partial and field.default is not None:
                values[field.name] = convert_value(field, field.default)
            elif not partial and field.required:
                raise FieldValueError("field required")
        except FieldValueError as exc:
            errors.append(field_error(field.name, str(exc)))
    if errors:
        raise ValidationError(errors)
    return values


def _checked(field: FieldSchema, value: Any) -> Any:
    if value is None:
        if field.required:
            raise FieldValueError("field required; null is not allowed")
        return None
    return convert_value(field, value)


def convert_value(field: FieldSchema, value: Any) -> Any:
    """Check one non-null value against the field's type and options; return it typed.

    Raises:
        FieldValueError: the value does not fit (message names the problem, not the field).
    """
    if not field.type.is_list:
        return _convert_scalar(field, field.type, value)
    if not isinstance(value, list):
        raise FieldValueError("must be a list")
    _check_length(field, len(value), unit="items")
    converted = []
    for position, item in enumerate(value):
        if item is None:
            raise FieldValueError(f"item {position} is null")
        try:
            converted.append(_convert_scalar(field, field.type.item_type, item))
        except FieldValueError as exc:
            raise FieldValueError(f"item {position}: {exc}") from None
    return converted


def _convert_scalar(field: FieldSchema, field_type: FieldType, value: Any) -> Any:
    """The value in the record engine's vocabulary (strict: JSON types only), then the
    field's own checks (ranges, lengths, patterns, formats)."""
    try:
        typed = convert(field_type.value_kind, value, strict=True)
    except ValueError as exc:
        if field_type == FieldType.RELATION:
            raise FieldValueError(f"must be the id of a record of {field.collection!r}") from None
        raise FieldValueError(str(exc)) from None
    check = _CHECKS.get(field_type)
    return typed if check is None else check(field, typed)


def _text(field: FieldSchema, text: str) -> str:
    if not field.type.is_list:
        _check_length(field, len(text), unit="characters")
    if field.pattern is not None and not _compiled(field.pattern).search(text):
        raise FieldValueError(f"does not match the pattern {field.pattern!r}")
    return text


def _email(field: FieldSchema, text: str) -> str:
    _text(field, text)
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldValueError(f"not a valid email address: {exc}") from None
    return text


def _url(field: FieldSchema, text: str) -> str:
    _text(field, text)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FieldValueError("not a valid http(s) URL")
    return text


def _select(field: FieldSchema, text: str) -> str:
    _text(field, text)
    if text not in (field.values or ()):
        raise FieldValueError(f"must be one of {', '.join(map(repr, field.values or ()))}")
    return text


def _integer(field: FieldSchema, number: int) -> int:
    _check_range(field, number)
    return number


def _number(field: FieldSchema, number: float) -> float:
    _check_range(field, number)
    return float(number)  # within a double's range: the conversion refused the rest


_CHECKS: dict[FieldType, Callable[[FieldSchema, Any], Any]] = {
    FieldType.STRING: _text,
    FieldType.TEXT: _text,
    FieldType.EMAIL: _email,
    FieldType.URL: _url,
    FieldType.SELECT: _select,
    FieldType.INTEGER: _integer,
    FieldType.NUMBER: _number,
}


def _check_length(field: FieldSchema, length: int, *, unit: str) -> None:
    if field.min_length is not None and length < field.min_length:
        raise FieldValueError(f"must have at least {field.min_length} {unit}")
    if field.max_length is not None and length > field.max_length:
        raise FieldValueError(f"must have at most {field.max_length} {unit}")


def _check_range(field: FieldSchema, value: float) -> None:
    if field.min is not None and value < field.min:
        raise FieldValueError(f"must be at least {field.min:g}")
    if field.max is not None and value > field.max:
        raise FieldValueError(f"must be at most {field.max:g}")


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
