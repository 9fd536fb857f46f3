"""Parsing collection schemas: every problem is a 422 that names the field and option."""

from __future__ import annotations

from typing import Any

import pytest

from tinybase.collections.field_schema import parse_schema
from tinybase.collections.fields import FieldType
from tinybase.collections.names import collection_name_problem
from tinybase.errors import ValidationError


def _errors(raw: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        parse_schema(raw)
    assert isinstance(caught.value.detail, list)
    return caught.value.detail


def test_every_field_type_parses() -> None:
    fields = [{"name": f"f{i}", "type": t.value} for i, t in enumerate(FieldType)]
    for field in fields:
        if field["type"] == "select":
            field["values"] = ["a", "b"]
        if field["type"] == "relation":
            field["collection"] = "other"
    schema = parse_schema({"fields": fields})
    assert [f.type for f in schema.fields] == list(FieldType)


def test_unknown_type_is_named() -> None:
    errors = _errors({"fields": [{"name": "title", "type": "strng"}]})
    assert errors[0]["loc"] == ["body", "schema", "fields", 0, "type"]
    assert "'strng'" in errors[0]["msg"]


def test_unknown_option_is_named() -> None:
    errors = _errors({"fields": [{"name": "title", "type": "string", "maxlen": 3}]})
    assert errors == [
        {
            "loc": ["body", "schema", "fields", 0, "maxlen"],
            "msg": "unknown field option 'maxlen'",
            "type": "extra_forbidden",
        }
    ]


def test_option_of_another_type_is_refused() -> None:
    errors = _errors({"fields": [{"name": "n", "type": "integer", "pattern": "x"}]})
    assert errors[0]["loc"][-1] == "pattern"
    assert "does not apply to type 'integer'" in errors[0]["msg"]


def test_unknown_schema_key_is_named() -> None:
    errors = _errors({"fields": [], "colums": []})
    assert errors[0]["loc"] == ["body", "schema", "colums"]


@pytest.mark.parametrize("name", ["Title", "1x", "id", "owner_id", "created_at", "a-b", ""])
def test_bad_field_names_are_refused(name: str) -> None:
    errors = _errors({"fields": [{"name": name, "type": "string"}]})
    assert errors[0]["loc"][-1] == "name"
    assert repr(name) in errors[0]["msg"]


def test_write_only_and_keyword_field_names_are_allowed() -> None:
    schema = parse_schema(
        {"fields": [{"name": "_secret", "type": "string"}, {"name": "order", "type": "integer"}]}
    )
    assert [f.name for f in schema.fields] == ["_secret", "order"]


def test_duplicate_field_names_are_refused() -> None:
    errors = _errors({"fields": [{"name": "a", "type": "string"}, {"name": "a", "type": "text"}]})
    assert errors[0]["loc"] == ["body", "schema", "fields", 1, "name"]


@pytest.mark.parametrize(
    ("field", "option"),
    [
        ({"type": "select"}, "values"),
        ({"type": "select", "values": ["a", "a"]}, "values"),
        ({"type": "relation"}, "collection"),
        ({"type": "relation", "collection": "_user"}, "collection"),
        ({"type": "integer", "min": 5, "max": 1}, "min"),
        ({"type": "string", "min_length": 5, "max_length": 1}, "min_length"),
        ({"type": "string", "pattern": "("}, "pattern"),
        ({"type": "integer", "default": "x"}, "default"),
        ({"type": "select", "values": ["a"], "default": "b"}, "default"),
        ({"type": "string", "max_length": 0}, "max_length"),
        ({"type": "boolean", "required": "maybe"}, "required"),
    ],
)
def test_bad_options_are_named(field: dict[str, Any], option: str) -> None:
    errors = _errors({"fields": [{"name": "f", **field}]})
    assert errors[0]["loc"][:5] == ["body", "schema", "fields", 0, option]


def test_unique_and_index_do_not_apply_to_json() -> None:
    errors = _errors({"fields": [{"name": "meta", "type": "json", "index": True}]})
    assert errors[0]["loc"][-1] == "index"


def test_stored_form_omits_defaults_and_round_trips() -> None:
    raw = {
        "fields": [{"name": "n", "type": "integer", "required": True, "min": 0, "unique": False}]
    }
    stored = parse_schema(raw).to_json()
    assert stored == {"fields": [{"name": "n", "type": "integer", "required": True, "min": 0}]}
    assert parse_schema(stored).to_json() == stored


@pytest.mark.parametrize(
    "name", ["select", "table", "user", "_user", "sqlite_master", "pg_x", "A", "a" * 64]
)
def test_bad_collection_names(name: str) -> None:
    assert collection_name_problem(name) is not None


@pytest.mark.parametrize("name", ["posts", "a", "order_items", "x" * 63])
def test_good_collection_names(name: str) -> None:
    assert collection_name_problem(name) is None
