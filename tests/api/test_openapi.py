"""``/openapi.json``: the record routes' bodies, list parameters, responses and security.

The record handlers read their own input (see ``tinybase.api.routing``); what FastAPI
cannot infer, ``tinybase.api.record_docs`` states. Generated clients and schemathesis read
this document, so it must be complete and well-formed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import openapi_spec_validator
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG
from tinybase.api.app import create_app
from tinybase.settings import load_config

V1 = "/api/records/v1/{api}"
V1_RECORD = "/api/records/v1/{api}/{record_id}"
CORE = "/api/collections/{name}/records"
CORE_RECORD = "/api/collections/{name}/records/{record_id}"
OPTIONAL_TOKEN = [{"HTTPBearer": []}, {}]
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'tinybase.db'}"
    config = load_config(db_url=db_url).model_copy(update=FAST_TEST_CONFIG)
    with TestClient(create_app(config)) as client:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        yield response.json()


def operation(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return spec["paths"][path][method]


def response_schema(spec: dict[str, Any], path: str, method: str, status: str) -> Any:
    return operation(spec, path, method)["responses"][status]["content"]["application/json"][
        "schema"
    ]


def parameter_names(spec: dict[str, Any], path: str, method: str) -> set[str]:
    return {parameter["name"] for parameter in operation(spec, path, method)["parameters"]}


def component(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return spec["components"]["schemas"][name]


# -- request bodies ------------------------------------------------------------------------


def test_trailbase_create_documents_one_record_or_a_bulk_array_or_a_form(
    spec: dict[str, Any],
) -> None:
    content = operation(spec, V1, "post")["requestBody"]["content"]
    assert set(content) == {"application/json", *FORMS}
    json_schema = content["application/json"]["schema"]
    assert [variant["type"] for variant in json_schema["oneOf"]] == ["object", "array"]
    assert json_schema["oneOf"][1]["items"]["type"] == "object"
    for form in FORMS:
        assert content[form]["schema"] == {
            "type": "object",
            "additionalProperties": {"type": "string"},
        }


def test_trailbase_update_documents_a_record_body(spec: dict[str, Any]) -> None:
    body = operation(spec, V1_RECORD, "patch")["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"]["type"] == "object"


def test_the_transaction_documents_its_operations_and_its_answer(spec: dict[str, Any]) -> None:
    execute = operation(spec, "/api/transaction/v1/execute", "post")
    schema = execute["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["operations"]
    kinds = [
        next(iter(item["properties"]))
        for item in schema["properties"]["operations"]["items"]["oneOf"]
    ]
    assert kinds == ["Create", "Update", "Delete"]
    answer = response_schema(spec, "/api/transaction/v1/execute", "post", "200")
    assert answer == {"$ref": "#/components/schemas/TransactionResult"}
    assert set(component(spec, "TransactionResult")["properties"]) == {"ids", "results"}
    assert execute["security"] == OPTIONAL_TOKEN


@pytest.mark.parametrize(("path", "method"), [(CORE, "post"), (CORE_RECORD, "patch")])
def test_collection_writes_document_the_data_envelope(
    spec: dict[str, Any], path: str, method: str
) -> None:
    body = operation(spec, path, method)["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert schema["required"] == ["data"]
    assert schema["properties"]["data"]["type"] == "object"
    assert schema["additionalProperties"] is False


# -- list parameters -----------------------------------------------------------------------


def test_trailbase_list_documents_its_options_and_filters(spec: dict[str, Any]) -> None:
    assert parameter_names(spec, V1, "get") == {
        "api",
        "limit",
        "offset",
        "cursor",
        "order",
        "count",
        "expand",
        "filter",
    }
    [filters] = [p for p in operation(spec, V1, "get")["parameters"] if p["name"] == "filter"]
    assert (filters["in"], filters["style"], filters["explode"]) == ("query", "deepObject", True)
    assert "filter[col][$op]=v" in filters["description"]
    [count] = [p for p in operation(spec, V1, "get")["parameters"] if p["name"] == "count"]
    assert count["schema"] == {
        "type": "boolean",
        "default": False,
        "description": "Add total_count.",
    }


def test_collection_list_documents_its_options_and_free_form_filters(
    spec: dict[str, Any],
) -> None:
    assert parameter_names(spec, CORE, "get") == {
        "name",
        "limit",
        "offset",
        "sort_by",
        "sort_order",
        "cursor",
        "filters",
    }
    [filters] = [p for p in operation(spec, CORE, "get")["parameters"] if p["name"] == "filters"]
    assert (filters["style"], filters["explode"]) == ("form", True)
    assert filters["schema"] == {"type": "object", "additionalProperties": {"type": "string"}}


def test_schema_mode_is_an_enum(spec: dict[str, Any]) -> None:
    [mode] = operation(spec, f"{V1}/schema", "get")["parameters"][1:]
    assert mode["schema"]["enum"] == ["Insert", "Update", "Select"]


# -- responses -----------------------------------------------------------------------------


def test_record_responses_name_their_shapes(spec: dict[str, Any]) -> None:
    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    assert response_schema(spec, V1, "post", "200") == ref("RecordIds")
    assert response_schema(spec, V1, "get", "200") == ref("RecordList")
    assert response_schema(spec, CORE, "get", "200") == ref("CollectionRecordPage")
    assert response_schema(spec, CORE, "post", "201") == ref("CollectionRecord")
    assert response_schema(spec, CORE_RECORD, "get", "200") == ref("CollectionRecord")
    assert response_schema(spec, CORE_RECORD, "patch", "200") == ref("CollectionRecord")
    assert response_schema(spec, V1_RECORD, "get", "200")["type"] == "object"


def test_list_envelopes_are_documented_field_by_field(spec: dict[str, Any]) -> None:
    assert set(component(spec, "RecordList")["properties"]) == {
        "records",
        "cursor",
        "total_count",
    }
    assert component(spec, "RecordList")["required"] == ["records", "cursor"]
    assert set(component(spec, "CollectionRecordPage")["properties"]) == {
        "records",
        "total",
        "limit",
        "offset",
        "cursor",
    }
    assert component(spec, "CollectionRecordPage")["properties"]["records"]["items"] == {
        "$ref": "#/components/schemas/CollectionRecord"
    }
    assert set(component(spec, "CollectionRecord")["properties"]) == {
        "id",
        "collection_id",
        "owner_id",
        "data",
        "created_at",
        "updated_at",
    }


@pytest.mark.parametrize(("path", "method"), [(V1_RECORD, "patch"), (V1_RECORD, "delete")])
def test_empty_trailbase_answers_document_no_body(
    spec: dict[str, Any], path: str, method: str
) -> None:
    assert operation(spec, path, method)["responses"]["200"] == {
        "description": "Done (an empty body)."
    }


def test_no_json_response_is_documented_as_a_string(spec: dict[str, Any]) -> None:
    for path, methods in spec["paths"].items():
        for method, documented in methods.items():
            for status, response in documented["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                assert schema != {"type": "string"}, (path, method, status)
                assert "$ref" not in (schema or {}) or len(schema) == 1, (path, method, status)


# -- security ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"),
    [
        (V1, "get"),
        (V1, "post"),
        (V1_RECORD, "get"),
        (V1_RECORD, "patch"),
        (V1_RECORD, "delete"),
        (f"{V1}/schema", "get"),
        (CORE, "get"),
        (CORE, "post"),
        (CORE_RECORD, "get"),
        (CORE_RECORD, "patch"),
        (CORE_RECORD, "delete"),
        ("/api/collections", "get"),
        ("/api/collections/{name}", "get"),
        ("/api/transaction/v1/execute", "post"),
        ("/api/auth/logout", "post"),
        ("/api/auth/v1/logout", "get"),
        ("/api/auth/v1/logout", "post"),
        ("/api/auth/v1/status", "get"),
    ],
)
def test_routes_open_to_anonymous_callers_show_the_token_as_optional(
    spec: dict[str, Any], path: str, method: str
) -> None:
    assert operation(spec, path, method)["security"] == OPTIONAL_TOKEN


def test_routes_for_signed_in_users_require_the_token(spec: dict[str, Any]) -> None:
    assert operation(spec, "/api/auth/me", "get")["security"] == [{"HTTPBearer": []}]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# -- well-formed ---------------------------------------------------------------------------


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "$ref":
                yield inner
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def test_document_is_well_formed(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    for ref in references(spec):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref
    operation_ids = [
        op["operationId"] for methods in spec["paths"].values() for op in methods.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    for path, methods in spec["paths"].items():
        for method, documented in methods.items():
            declared = {p["name"] for p in documented.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)
            assert all("schema" in p for p in documented.get("parameters", [])), (path, method)


def test_document_validates_as_openapi_3_1(spec: dict[str, Any]) -> None:
    openapi_spec_validator.validate(spec)


def test_document_is_built_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('openapi-once') / 'tinybase.db'}"
    app = create_app(load_config(db_url=db_url).model_copy(update=FAST_TEST_CONFIG))
    assert app.openapi() is app.openapi()
