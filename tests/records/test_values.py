"""The one vocabulary of value conversion: lenient for query strings and forms, strict (JSON
types only) for collection fields, the same messages for both."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from tinybase.collections.field_schema import parse_schema
from tinybase.collections.validation import FieldValueError, convert_value
from tinybase.records.values import ValueKind, convert


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (ValueKind.INTEGER, "42", 42),
        (ValueKind.NUMBER, "1.5", 1.5),
        (ValueKind.BOOLEAN, "true", True),
    ],
)
def test_lenient_takes_text_and_strict_refuses_it(kind: str, text: str, value: object) -> None:
    assert convert(kind, text) == value
    with pytest.raises(ValueError, match=r"^expected an? (integer|number|boolean)$"):
        convert(kind, text, strict=True)


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (ValueKind.DATE, "2026-12-03", date(2026, 12, 3)),
        (ValueKind.DATETIME, "2026-12-03 10:00", datetime(2026, 12, 3, 10, tzinfo=UTC)),
    ],
)
def test_iso_text_is_the_json_form_of_dates_in_both_modes(
    kind: str, text: str, value: object
) -> None:
    assert convert(kind, text) == convert(kind, text, strict=True) == value


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (ValueKind.INTEGER, True, "expected an integer"),
        (ValueKind.INTEGER, 1.5, "expected an integer"),
        (ValueKind.NUMBER, False, "expected a number"),
        (ValueKind.BOOLEAN, 1, "expected a boolean"),
        (ValueKind.TEXT, 5, "expected a string"),
        (ValueKind.UUID, 7, "expected a UUID"),
        (ValueKind.DATE, datetime(2026, 1, 1, tzinfo=UTC), "expected an ISO 8601 date"),
    ],
)
def test_strict_refuses_other_json_types(kind: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        convert(kind, value, strict=True)


def test_collection_fields_convert_through_the_same_vocabulary() -> None:
    schema = parse_schema(
        {
            "fields": [
                {"name": "n", "type": "integer", "max": 10},
                {"name": "x", "type": "number"},
                {"name": "ref", "type": "relation", "collection": "docs"},
                {"name": "tags", "type": "list[integer]"},
            ]
        }
    )
    fields = schema.by_name()
    assert convert_value(fields["n"], 3.0) == 3
    assert convert_value(fields["x"], 2) == 2.0 and isinstance(convert_value(fields["x"], 2), float)
    key = uuid.uuid4()
    assert convert_value(fields["ref"], key) == str(key)
    assert convert_value(fields["tags"], [1, 2.0]) == [1, 2]
    messages = {}
    for name, value in (("n", "3"), ("n", 11), ("ref", "nope"), ("tags", [1, "2"])):
        with pytest.raises(FieldValueError) as caught:
            convert_value(fields[name], value)
        messages[(name, repr(value))] = str(caught.value)
    assert messages == {
        ("n", "'3'"): "expected an integer",
        ("n", "11"): "must be at most 10",
        ("ref", "'nope'"): "must be the id of a record of 'docs'",
        ("tags", "[1, '2']"): "item 1: expected an integer",
    }
