"""Routes under /api/collections: collections (admin-managed) and their records.

    GET    /api/collections                       collections the caller may list or read
    POST   /api/collections                       create (admin)
    GET    /api/collections/{name}                one, if the caller may see it
    PATCH  /api/collections/{name}                change label, schema, options (admin)
    DELETE /api/collections/{name}                drop it with its records (admin)
    GET    /api/collections/{name}/records        list (limit, offset, sort_by, sort_order,
                                                  cursor, filters)
    POST   /api/collections/{name}/records        create {"data": {...}}
    GET    /api/collections/{name}/records/{id}   read
    PATCH  /api/collections/{name}/records/{id}   partial update {"data": {...}}
    DELETE /api/collections/{name}/records/{id}   delete

Access rules are enforced by the record engine inside the SQL; handlers only pass the caller.
Record handlers are ``async`` and send their one blocking call (catalog lookup, validation
and the engine) to the database's :class:`~tinybase.records.executor.DatabaseExecutor`
(see :mod:`tinybase.api.routes.records`); collection management stays plain ``def``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tinybase.api.deps import BEARER_DOCS, AdminUser, CurrentPrincipal, State
from tinybase.api.responses import JSONResponse
from tinybase.collections.access import may_see
from tinybase.collections.catalog import definition_of
from tinybase.collections.records import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, CollectionRecords
from tinybase.db.models import Collection
from tinybase.errors import NotFoundError
from tinybase.records.executor import executor_for

router = APIRouter(prefix="/api/collections", tags=["collections"])


class CollectionCreate(BaseModel):
    """The body of ``POST /api/collections``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    label: str | None = None
    schema_: dict[str, Any] = Field(default_factory=lambda: {"fields": []}, alias="schema")
    options: dict[str, Any] | None = None


class CollectionUpdate(BaseModel):
    """The body of ``PATCH /api/collections/{name}``; ``drop_fields`` confirms removals."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    label: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    options: dict[str, Any] | None = None
    drop_fields: list[str] | None = None


class RecordBody(BaseModel):
    """The body of record writes: the field values under ``data``."""

    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any]


def _collection_json(collection: Collection) -> dict[str, Any]:
    return {
        "id": collection.id,
        "name": collection.name,
        "label": collection.label,
        "schema": collection.schema_,
        "options": collection.options,
        "created_at": collection.created_at,
        "updated_at": collection.updated_at,
    }


@router.get("", openapi_extra=BEARER_DOCS)
def list_collections(state: State, principal: CurrentPrincipal) -> JSONResponse:
    collections = state.collections.list()
    visible = [c for c in collections if may_see(principal, definition_of(c).api)]
    return JSONResponse([_collection_json(c) for c in visible])


@router.post("", status_code=201)
def create_collection(body: CollectionCreate, state: State, _admin: AdminUser) -> JSONResponse:
    created = state.collections.create(
        body.name, body.label or body.name, body.schema_, body.options
    )
    return JSONResponse(_collection_json(created), status_code=201)


@router.get("/{name}", openapi_extra=BEARER_DOCS)
def get_collection(name: str, state: State, principal: CurrentPrincipal) -> JSONResponse:
    collection = state.collections.get(name)
    if collection is None or not may_see(principal, definition_of(collection).api):
        raise NotFoundError(f"collection {name!r} not found")
    return JSONResponse(_collection_json(collection))


@router.patch("/{name}")
def update_collection(
    name: str, body: CollectionUpdate, state: State, _admin: AdminUser
) -> JSONResponse:
    schema = body.schema_
    if body.drop_fields is not None:
        current = state.collections.require(name).schema_
        schema = {**(schema or current), "drop_fields": body.drop_fields}
    updated = state.collections.update(
        state.collections.require(name), label=body.label, schema=schema, options=body.options
    )
    return JSONResponse(_collection_json(updated))


@router.delete("/{name}", status_code=204)
def delete_collection(name: str, state: State, _admin: AdminUser) -> Response:
    state.collections.delete(state.collections.require(name))
    return Response(status_code=204)


@router.get("/{name}/records", openapi_extra=BEARER_DOCS)
async def list_records(
    name: str,
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    sort_by: str | None = None,
    sort_order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    cursor: str | None = None,
) -> JSONResponse:
    filters = request.query_params.multi_items()
    page = await executor_for(state.db).read(
        lambda: CollectionRecords(state.collections).list(
            principal,
            name,
            filters=filters,
            limit=limit,
            offset=offset,
            sort_by=sort_by,
            sort_order=sort_order,
            cursor=cursor,
        )
    )
    return JSONResponse(page.to_json())


@router.post("/{name}/records", status_code=201, openapi_extra=BEARER_DOCS)
async def create_record(
    name: str, body: RecordBody, state: State, principal: CurrentPrincipal
) -> JSONResponse:
    record = await executor_for(state.db).write(
        lambda: CollectionRecords(state.collections).create(principal, name, body.data)
    )
    return JSONResponse(record, status_code=201)


@router.get("/{name}/records/{record_id}", openapi_extra=BEARER_DOCS)
async def get_record(
    name: str, record_id: str, state: State, principal: CurrentPrincipal
) -> JSONResponse:
    record = await executor_for(state.db).read(
        lambda: CollectionRecords(state.collections).read(principal, name, record_id)
    )
    return JSONResponse(record)


@router.patch("/{name}/records/{record_id}", openapi_extra=BEARER_DOCS)
async def update_record(
    name: str, record_id: str, body: RecordBody, state: State, principal: CurrentPrincipal
) -> JSONResponse:
    record = await executor_for(state.db).write(
        lambda: CollectionRecords(state.collections).update(principal, name, record_id, body.data)
    )
    return JSONResponse(record)


@router.delete("/{name}/records/{record_id}", status_code=204, openapi_extra=BEARER_DOCS)
async def delete_record(
    name: str, record_id: str, state: State, principal: CurrentPrincipal
) -> Response:
    await executor_for(state.db).write(
        lambda: CollectionRecords(state.collections).delete(principal, name, record_id)
    )
    return Response(status_code=204)
