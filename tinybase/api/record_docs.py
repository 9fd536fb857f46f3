"""What the OpenAPI docs say about the record routes: bodies, list parameters, responses.

Record handlers are :class:`~tinybase.api.routing.PlainRoute` endpoints that read their own
input and build their own responses, so FastAPI cannot infer any of it; this module states
it once, for both families. Everything here is built at import time: FastAPI renders
``/openapi.json`` once, on first request, and caches it; no request pays for it.

Collections are created at run time, so a record is documented as a JSON object; the exact
schema of one record API is ``GET /api/records/v1/{api}/schema``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "COLLECTION_FILTERS",
    "EMPTY_BODY",
    "RECORD_OBJECT",
    "TRAILBASE_CREATE_BODY",
    "TRAILBASE_FILTERS",
    "TRAILBASE_LIST_QUERY",
    "TRAILBASE_UPDATE_BODY",
    "TRANSACTION_BODY",
    "CollectionRecord",
    "CollectionRecordPage",
    "RecordIds",
    "RecordList",
    "TransactionResult",
    "json_response",
]

RECORD_OBJECT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": True,
    "description": "A record: column name -> value (the API's schema: GET .../{api}/schema).",
}

# -- responses -------------------------------------------------------------------------------


class RecordIds(BaseModel):
    """The answer to a TrailBase create: the new records' ids, in the order given."""

    ids: list[str]


class RecordList(BaseModel):
    """One page of a TrailBase list."""

    records: list[dict[str, Any]]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    total_count: int | None = Field(None, description="Only with ?count=true.")


class CollectionRecord(BaseModel):
    """A record of the TinyBase family: system columns, the fields under ``data``."""

    id: str
    collection_id: str
    owner_id: str | None
    data: dict[str, Any]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})


class CollectionRecordPage(BaseModel):
    """One page of a TinyBase list."""

    records: list[CollectionRecord]
    total: int = Field(description="Records matching the filters, all pages.")
    limit: int
    offset: int
    cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class TransactionResult(BaseModel):
    """The answer to a transaction: created ids (TrailBase before 0.31) and one result per
    operation (since 0.31)."""

    ids: list[str | int] = Field(description="The ids of the records created, in order.")
    results: list[dict[str, str]] = Field(description='One {"Id": "<id>"} per operation.')


def json_response(schema: dict[str, Any], description: str) -> dict[int | str, dict[str, Any]]:
    """A ``responses`` entry for 200 with an inline JSON schema (no model to reference)."""
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}


EMPTY_BODY: dict[int | str, dict[str, Any]] = {200: {"description": "Done (an empty body)."}}

# -- request bodies --------------------------------------------------------------------------

_FORM = {"type": "object", "additionalProperties": {"type": "string"}}
TRAILBASE_CREATE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [RECORD_OBJECT, {"type": "array", "items": RECORD_OBJECT}],
                "description": "One record, or an array of records (bulk, all or none).",
            }
        },
        "application/x-www-form-urlencoded": {"schema": _FORM},
        "multipart/form-data": {"schema": _FORM},
    },
}
TRAILBASE_UPDATE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": {**RECORD_OBJECT, "description": "The columns to set."}},
        "application/x-www-form-urlencoded": {"schema": _FORM},
        "multipart/form-data": {"schema": _FORM},
    },
}

_OPERATION_TARGET = {"api_name": {"type": "string"}, "record_id": {"type": "string"}}


def _operation(kind: str, required: list[str], value: dict[str, Any] | None) -> dict[str, Any]:
    properties = {name: _OPERATION_TARGET[name] for name in required if name != "value"}
    if value is not None:
        properties["value"] = value
    spec = {"type": "object", "required": required, "properties": properties}
    return {"type": "object", "required": [kind], "properties": {kind: spec}}


TRANSACTION_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["operations"],
                "properties": {
                    "operations": {
                        "type": "array",
                        "maxItems": 128,
                        "items": {
                            "oneOf": [
                                _operation("Create", ["api_name", "value"], RECORD_OBJECT),
                                _operation(
                                    "Update", ["api_name", "record_id", "value"], RECORD_OBJECT
                                ),
                                _operation("Delete", ["api_name", "record_id"], None),
                            ]
                        },
                    },
                    "transaction": {
                        "type": "boolean",
                        "description": "Always true here: all operations or none.",
                    },
                },
            }
        }
    },
}

# -- list parameters -------------------------------------------------------------------------

TRAILBASE_LIST_QUERY: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "description": "Records per page."},
    "offset": {"type": "integer", "minimum": 0, "default": 0},
    "cursor": {"type": "string", "description": "The cursor of the previous page."},
    "order": {
        "type": "string",
        "description": "Comma-separated sort columns, - for descending: -rank,+created.",
    },
    "count": {"type": "boolean", "default": False, "description": "Add total_count."},
    "expand": {"type": "string", "description": "Comma-separated foreign-key columns."},
}

_OPERATORS = "$eq $ne $gt $gte $lt $lte $like $re $is (NULL or !NULL)"
TRAILBASE_FILTERS: list[dict[str, Any]] = [
    {
        "name": "filter",
        "in": "query",
        "required": False,
        "style": "deepObject",
        "explode": True,
        "description": "filter[col]=v, filter[col][$op]=v, filter[$or][0][col]=v; "
        f"operators: {_OPERATORS}.",
        "schema": {"type": "object", "additionalProperties": True},
    }
]
COLLECTION_FILTERS: list[dict[str, Any]] = [
    {
        "name": "filters",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "description": "Every other key is a filter: col=v, col[op]=v (eq ne gt gte lt lte "
        f"like re is), or filter[col][$op]=v as in the TrailBase family ({_OPERATORS}).",
        "schema": {"type": "object", "additionalProperties": {"type": "string"}},
    }
]
