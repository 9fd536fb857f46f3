"""Record data → typed values: every type, every option, unknown fields refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from tinybase.collections.field_schema import CollectionSchema, parse_schema
from tinybase.collections.validation import validate_record_data
from tinybase.errors import ValidationError

SCHEMA = parse_schema(
    {
        "fields": [
            {"name": "title", "type": "string", "required": True, "min_length": 2, "max_length": 5},
            {"name": "body", "type": "text", "pattern": "^hello"},
            {"name": "count", "type": "integer", "min": 0, "max": 10, "default": 1},
            {"name": "price", "type": "number", "min": 0.5},
            {"name": "done", "type": "boolean"},
            {"name": "at", "type": "datetime"},
            {"name": "day", "type": "date"},
            {"name": "email", "type": "email"},
            {"name": "site", "type": "url"},
            {"name": "meta", "type": "json"},
            {"name": "status", "type": "select", "values": ["open", "closed"]},
            {"name": "parent", "type": "relation", "collection": "posts"},
            {"name": "tags", "type": "list[string]", "max_length": 2},
            {"name": "scores", "type": "list[integer]", "max": 5},
            {"name": "weights", "type": "list[number]"},
            {"name": "flags", "type": "list[boolean]"},
        ]
    }
)


def _error_fields(
    data: Any, *, schema: CollectionSchema = SCHEMA, partial: bool = False
) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        validate_record_data(schema, data, partial=partial)
    return {error["loc"][-1]: error["msg"] for error in caught.value.detail}


def test_every_type_converts() -> None:
    parent = "0190a8f2-0000-7000-8000-000000000001"
    values = validate_record_data(
        SCHEMA,
        {
            "title": "abc",
            "body": "hello world",
            "price": 2,
            "done": False,
            "at": "2024-05-01T10:00:00+02:00",
            "day": "2024-05-01",
            "email": "a@example.com",
            "site": "https://example.com/x",
            "meta": {"a": [1, None]},
            "status": "open",
            "parent": parent.upper(),
            "tags": ["x"],
            "scores": [1, 5],
            "weights": [1.5, 2],
            "flags": [True],
        },
    )
    assert values == {
        "title": "abc",
        "body": "hello world",
        "count": 1,
        "price": 2.0,
        "done": False,
        "at": datetime(2024, 5, 1, 8, tzinfo=UTC),
        "day": date(2024, 5, 1),
        "email": "a@example.com",
        "site": "https://example.com/x",
        "meta": {"a": [1, None]},
        "status": "open",
        "parent": parent,
        "tags": ["x"],
        "scores": [1, 5],
        "weights": [1.5, 2.0],
        "flags": [True],
    }


def test_missing_required_field_is_named() -> None:
    assert _error_fields({}) == {"title": "field required"}


def test_null_for_required_field_is_refused() -> None:
    assert "title" in _error_fields({"title": None})


def test_unknown_fields_are_rejected_not_dropped() -> None:
    errors = _error_fields({"title": "abc", "titel": "x"})
    assert errors == {"titel": "unknown field 'titel'"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "a"),
        ("title", "abcdef"),
        ("title", 5),
        ("body", "bye"),
        ("count", 11),
        ("count", -1),
        ("count", 1.5),
        ("count", True),
        ("count", "3"),
        ("price", 0.1),
        ("price", "1"),
        ("done", 1),
        ("at", "yesterday"),
        ("day", "2024-13-01"),
        ("email", "not-an-email"),
        ("site", "ftp://example.com"),
        ("site", "example.com"),
        ("status", "pending"),
        ("parent", "not-a-uuid"),
        ("tags", "x"),
        ("tags", ["a", "b", "c"]),
        ("tags", [1]),
        ("scores", [6]),
        ("weights", [None]),
        ("flags", ["yes"]),
    ],
)
def test_bad_values_name_their_field(field: str, value: Any) -> None:
    errors = _error_fields({"title": "abc", field: value})
    assert list(errors) == [field]


def test_every_bad_field_is_reported_at_once() -> None:
    assert set(_error_fields({"title": "a", "count": 99, "zzz": 1})) == {"title", "count", "zzz"}


def test_partial_checks_only_given_fields() -> None:
    assert validate_record_data(SCHEMA, {"count": 3}, partial=True) == {"count": 3}
    assert "title" in _error_fields({"title": None}, partial=True)


def test_data_must_be_an_object() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_record_data(SCHEMA, ["x"])
    assert caught.value.detail[0]["loc"] == ["body", "data"]
