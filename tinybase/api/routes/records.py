"""Routes of the TrailBase record API family, at /api/records/v1 and /api/v1/records.

    POST   /{api}                 JSON object | JSON array (bulk) | form -> {"ids": [...]}
    GET    /{api}                 list -> {"records", "cursor", "total_count"?}
    GET    /{api}/schema          ?mode=Insert|Update|Select -> JSON Schema
    GET    /{api}/{id}            ?expand=col,... -> the record
    PATCH  /{api}/{id}            partial update -> 200, empty body
    DELETE /{api}/{id}            -> 200, empty body

The shapes are those the npm ``trailbase`` client expects (ids in URLs as plain text, the
cursor handed back as received). ``/api/records/v1`` is what the clients call;
``/api/v1/records`` is the path TrailBase's documentation shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tinybase.api.deps import CurrentPrincipal, State
from tinybase.errors import BadRequestError, ValidationError
from tinybase.records.engine import RecordEngine
from tinybase.records.query import ListQuery

router = APIRouter(tags=["records (TrailBase)"])

PREFIXES = ("/api/records/v1", "/api/v1/records")


def _routes(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler under both prefixes (the second hidden from the OpenAPI docs)."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        for index, prefix in enumerate(PREFIXES):
            router.add_api_route(
                prefix + path, handler, methods=[method], include_in_schema=index == 0
            )
        return handler

    return register


def get_engines(state: State) -> Callable[[str], RecordEngine]:
    return state.record_apis.get


Engines = Annotated[Callable[[str], RecordEngine], Depends(get_engines)]


@_routes("POST", "/{api}")
async def create_records(
    api: str, request: Request, principal: CurrentPrincipal, engines: Engines
) -> dict[str, Any]:
    body = await _body(request)
    ids = await run_in_threadpool(lambda: engines(api).create(principal, body))
    return {"ids": ids}


@_routes("GET", "/{api}")
def list_records(
    api: str, request: Request, principal: CurrentPrincipal, engines: Engines
) -> dict[str, Any]:
    query = ListQuery.from_params(request.query_params.multi_items())
    page = engines(api).list(principal, query)
    body: dict[str, Any] = {"records": page.records, "cursor": page.cursor}
    if page.total_count is not None:
        body["total_count"] = page.total_count
    return body


@_routes("GET", "/{api}/schema")
def record_schema(
    api: str, principal: CurrentPrincipal, engines: Engines, mode: str = "Insert"
) -> dict[str, Any]:
    return engines(api).json_schema(principal, mode)


@_routes("GET", "/{api}/{record_id}")
def read_record(
    api: str,
    record_id: str,
    principal: CurrentPrincipal,
    engines: Engines,
    expand: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    names = [name.strip() for name in expand.split(",") if name.strip()] if expand else []
    return engines(api).read(principal, record_id, expand=names)


@_routes("PATCH", "/{api}/{record_id}")
async def update_record(
    api: str, record_id: str, request: Request, principal: CurrentPrincipal, engines: Engines
) -> Response:
    body = await _body(request)
    await run_in_threadpool(lambda: engines(api).update(principal, record_id, body))
    return Response(status_code=200)


@_routes("DELETE", "/{api}/{record_id}")
def delete_record(
    api: str, record_id: str, principal: CurrentPrincipal, engines: Engines
) -> Response:
    engines(api).delete(principal, record_id)
    return Response(status_code=200)


async def _body(request: Request) -> Any:
    """A JSON body (object or array), or a url-encoded / multipart form as a flat object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        values: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                raise ValidationError.for_field(key, "file uploads are not supported here")
            if key in values:
                raise ValidationError.for_field(key, "given more than once")
            values[key] = value
        return values
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequestError("the body is not valid JSON") from None
