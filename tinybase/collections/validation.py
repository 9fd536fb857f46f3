"""Record data → typed values, checked against a collection's schema.

Errors are :class:`tinybase.errors.ValidationError` in FastAPI's list shape, one entry per
bad field, each naming the field in ``loc`` (``["body", "data", "<field>"]``). Unknown fields
are rejected, never dropped: a typo must not lose data silently.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from tinybase.collections.fields import FieldType
from tinybase.errors import ValidationError
from tinybase.records.values import check_json

if TYPE_CHECKING:
    from tinybase.collections.field_schema import CollectionSchema, FieldSchema

__all__ = ["FieldValueError", "convert_value", "field_error", "validate_record_data"]

_INT64 = (-(2**63), 2**63 - 1)
_LOC = ("body", "data")


class FieldValueError(ValueError):
    """One value does not fit its field; the message is safe to show."""


def field_error(field: str, message: str, *, kind: str = "value_error") -> dict[str, Any]:
    """One entry of a 422 ``detail`` list about a record field."""
    return {"loc": [*_LOC, field], "msg": message, "type": kind}


def validate_record_data(
    schema: CollectionSchema, data: Any, *, partial: bool = False
) -> dict[str, Any]:
    """Check record ``data`` against ``schema`` and return the typed values to store.

    Args:
        schema: the collection's current schema.
        data: the client's ``data`` object.
        partial: True for an update (only the given fields are checked and returned); False
            for a create (defaults fill missing fields; missing required fields are errors).

    Raises:
        ValidationError: 422 listing every bad, missing or unknown field.
    """
    if not isinstance(data, dict):
        raise ValidationError([{"loc": list(_LOC), "msg": "must be an object", "type": "type"}])
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
    converter = _CONVERTERS[field_type]
    return converter(field, value)


def _text(field: FieldSchema, value: Any) -> str:
    if not isinstance(value, str):
        raise FieldValueError("must be a string")
    if not field.type.is_list:
        _check_length(field, len(value), unit="characters")
    if field.pattern is not None and not _compiled(field.pattern).search(value):
        raise FieldValueError(f"does not match the pattern {field.pattern!r}")
    return value


def _email(field: FieldSchema, value: Any) -> str:
    text = _text(field, value)
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldValueError(f"not a valid email address: {exc}") from None
    return text


def _url(field: FieldSchema, value: Any) -> str:
    text = _text(field, value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FieldValueError("not a valid http(s) URL")
    return text


def _select(field: FieldSchema, value: Any) -> str:
    text = _text(field, value)
    if text not in (field.values or ()):
        raise FieldValueError(f"must be one of {', '.join(map(repr, field.values or ()))}")
    return text


def _integer(field: FieldSchema, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldValueError("must be an integer")
    if not _INT64[0] <= value <= _INT64[1]:
        raise FieldValueError("out of the 64-bit integer range")
    _check_range(field, value)
    return value


def _number(field: FieldSchema, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldValueError("must be a number")
    try:
        number = float(value)  # an int past 1e308 overflows: not a storable double
    except OverflowError:
        raise FieldValueError("must be a finite number") from None
    if not math.isfinite(number):
        raise FieldValueError("must be a finite number")
    _check_range(field, number)
    return number


def _boolean(field: FieldSchema, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldValueError("must be true or false")
    return value


def _datetime(field: FieldSchema, value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise FieldValueError("not an ISO 8601 date-time") from None
    if not isinstance(value, datetime):
        raise FieldValueError("must be an ISO 8601 date-time string")
    # A date-time without an offset is taken as UTC; everything is stored in UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 falls before year 1 in UTC
        raise FieldValueError("out of range once converted to UTC") from None


def _date(field: FieldSchema, value: Any) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise FieldValueError("not an ISO 8601 date (YYYY-MM-DD)") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise FieldValueError("must be an ISO 8601 date string (YYYY-MM-DD)")
    return value


def _json(field: FieldSchema, value: Any) -> Any:
    try:
        check_json(value)
    except ValueError as exc:
        raise FieldValueError(str(exc)) from None
    return value


def _relation(field: FieldSchema, value: Any) -> str:
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError:
        raise FieldValueError(f"must be the id of a record of {field.collection!r}") from None


_CONVERTERS = {
    FieldType.STRING: _text,
    FieldType.TEXT: _text,
    FieldType.EMAIL: _email,
    FieldType.URL: _url,
    FieldType.SELECT: _select,
    FieldType.INTEGER: _integer,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATETIME: _datetime,
    FieldType.DATE: _date,
    FieldType.JSON: _json,
    FieldType.RELATION: _relation,
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
