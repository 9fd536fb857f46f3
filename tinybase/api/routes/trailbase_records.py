"""Routes of the TrailBase record API family, at /api/records/v1 and /api/v1/records.

    POST   /{api}                 JSON object | JSON array (bulk) | form -> {"ids": [...]}
    GET    /{api}                 list -> {"records", "cursor", "total_count"?}
    GET    /{api}/schema          ?mode=Insert|Update|Select -> JSON Schema
    GET    /{api}/{id}            ?expand=col,... -> the record
    PATCH  /{api}/{id}            partial update -> 200, empty body
    DELETE /{api}/{id}            -> 200, empty body
    GET    /{api}/{id}/file/{column}             the file of a std.FileUpload column
    GET    /{api}/{id}/files/{column}/{filename} one file of a column, by its stored name

Bodies may be JSON (file columns take TrailBase's ``{filename?, content_type?, data}``
upload objects) or ``multipart/form-data`` (file parts for file columns): see
:mod:`tinybase.api.files`. Downloads are readable exactly when the record is.

The shapes are those the npm ``trailbase`` client expects (ids in URLs as plain text, the
cursor handed back as received). ``/api/records/v1`` is what the clients call;
``/api/v1/records`` is the path TrailBase's documentation shows.

Handlers return a :class:`JSONResponse` (orjson, straight from the engine's dicts), so
FastAPI does not validate and re-encode the body through a response model. They are
``async``: parsing and encoding run on the event loop, and the one blocking step, the call
into the record engine (engine lookup included: it may reload from the database), goes to
the database's :class:`~tinybase.records.executor.DatabaseExecutor` (reads to its readers,
writes to its group-committing writer), never to the event loop thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from tinybase.api.deps import app_state, client_ip, get_principal
from tinybase.api.files import THUMB_QUERY, file_response, form_values, pick_file, write_with_files
from tinybase.api.json_body import parse_json_body
from tinybase.api.record_docs import (
    EMPTY_BODY,
    RECORD_OBJECT,
    TRAILBASE_CREATE_BODY,
    TRAILBASE_FILTERS,
    TRAILBASE_LIST_QUERY,
    TRAILBASE_UPDATE_BODY,
    RecordIds,
    RecordList,
    json_response,
)
from tinybase.api.responses import JSONResponse
from tinybase.api.routing import PlainRoute, plain_route_docs
from tinybase.api.state import AppState
from tinybase.auth.principal import Principal
from tinybase.records.conflicts import ConflictBudget, caller_key
from tinybase.records.engine import RecordEngine
from tinybase.records.executor import DatabaseExecutor
from tinybase.records.query import ListQuery
from tinybase.records.registry import RecordApiRegistry

router = APIRouter(tags=["records (TrailBase)"], route_class=PlainRoute)
# The second prefix's routes, included by the app after every other router: FastAPI tries
# routes in order, so no documented path pays for trying the alias routes first.
aliases = APIRouter(tags=["records (TrailBase)"], include_in_schema=False, route_class=PlainRoute)

PREFIXES = ("/api/records/v1", "/api/v1/records")


def _routes(
    method: str,
    path: str,
    query: dict[str, dict[str, Any]] | None = None,
    *,
    responses: dict[int | str, dict[str, Any]],
    response_class: type[Response] = JSONResponse,
    **docs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler under both prefixes (the second hidden from the OpenAPI docs).

    Handlers take only the ``Request`` (see :mod:`tinybase.api.routing`):
    the path parameters are the ``{names}`` of ``path``, documented with ``query``, the
    ``docs`` keywords of :func:`plain_route_docs`, ``responses`` and ``response_class``
    (``Response``: no body; the handler builds its response either way).
    """
    extra = plain_route_docs(tuple(re.findall(r"{(\w+)}", path)), query, **docs)

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        primary, alias = PREFIXES
        router.add_api_route(
            primary + path,
            handler,
            methods=[method],
            openapi_extra=extra,
            responses=responses,
            response_class=response_class,
        )
        aliases.add_api_route(alias + path, handler, methods=[method])
        return handler

    return register


class Engines:
    """The record engines of this app and the executor that runs their blocking calls."""

    def __init__(self, state: AppState, client: Callable[[], str]) -> None:
        self.state = state
        self.registry: RecordApiRegistry = state.record_apis
        self.conflicts: ConflictBudget = state.conflicts
        self.executor: DatabaseExecutor = state.executor
        self.client = client

    async def read(self, api: str, call: Callable[[RecordEngine], Any]) -> Any:
        """``call(engine of api)`` in a reader thread."""
        return await self.executor.read(lambda: self.registry.run(api, call, retry=True))

    async def write(
        self,
        api: str,
        principal: Principal,
        body: Any,
        call: Callable[[RecordEngine, Any], Any],
        *,
        rows: int = 1,
    ) -> Any:
        """``call(engine of api, body)`` in the writer thread (group commit on SQLite,
        bounded by the ``rows`` each call writes), within the caller's conflict budget
        (:mod:`tinybase.records.conflicts`); the uploads in ``body`` are stored first."""

        def run(engine: RecordEngine, values: Any) -> Any:
            if not engine.conflicts_may_reveal(principal):
                return call(engine, values)
            caller = caller_key(principal, self.client())
            return self.conflicts.run(caller, lambda: call(engine, values), guarded=True)

        async def submit(values: Any) -> Any:
            return await self.executor.write(
                lambda: self.registry.run(api, lambda engine: run(engine, values), retry=False),
                rows=rows,
            )

        return await write_with_files(self.state, api, body, submit)

    @classmethod
    def of(cls, request: Request) -> Engines:
        """The engines of the app serving ``request``.

        A plain call, not a dependency: FastAPI's cost grows with every dependency solved
        per request, and these handlers are the hot path.
        """
        # The client's address only matters for the conflict budget of an anonymous write.
        return cls(app_state(request), lambda: client_ip(request))


@_routes("POST", "/{api}", body=TRAILBASE_CREATE_BODY, responses={200: {"model": RecordIds}})
async def create_records(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    body = await _body(request)
    api = request.path_params["api"]
    rows = len(body) if isinstance(body, list) else 1
    ids = await Engines.of(request).write(
        api, principal, body, lambda engine, values: engine.create(principal, values), rows=rows
    )
    return JSONResponse({"ids": ids})


@_routes(
    "GET",
    "/{api}",
    TRAILBASE_LIST_QUERY,
    parameters=TRAILBASE_FILTERS,
    responses={200: {"model": RecordList}},
)
async def list_records(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    query = ListQuery.from_params(request.query_params.multi_items())
    api = request.path_params["api"]
    page = await Engines.of(request).read(api, lambda engine: engine.list(principal, query))
    body: dict[str, Any] = {"records": page.records, "cursor": page.cursor}
    if page.total_count is not None:
        body["total_count"] = page.total_count
    return JSONResponse(body)


@_routes(
    "GET",
    "/{api}/schema",
    {"mode": {"type": "string", "enum": ["Insert", "Update", "Select"], "default": "Insert"}},
    responses=json_response({"type": "object"}, "The JSON Schema of the API's records."),
)
async def record_schema(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    api, mode = request.path_params["api"], request.query_params.get("mode", "Insert")
    engines = Engines.of(request)
    return JSONResponse(await engines.read(api, lambda engine: engine.json_schema(principal, mode)))


@_routes(
    "GET",
    "/{api}/{record_id}",
    {"expand": TRAILBASE_LIST_QUERY["expand"]},
    responses=json_response(RECORD_OBJECT, "The record."),
)
async def read_record(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    api, record_id = request.path_params["api"], request.path_params["record_id"]
    expand = request.query_params.get("expand")
    names = [name.strip() for name in expand.split(",") if name.strip()] if expand else []
    engines = Engines.of(request)
    record = await engines.read(api, lambda engine: engine.read(principal, record_id, expand=names))
    return JSONResponse(record)


@_routes(
    "PATCH",
    "/{api}/{record_id}",
    body=TRAILBASE_UPDATE_BODY,
    responses=EMPTY_BODY,
    response_class=Response,
)
async def update_record(request: Request) -> Response:
    principal = await get_principal(request)
    body = await _body(request)
    api, record_id = request.path_params["api"], request.path_params["record_id"]
    await Engines.of(request).write(
        api,
        principal,
        body,
        lambda engine, values: engine.update(principal, record_id, values, answer=False),
    )
    return Response(status_code=200)


@_routes("DELETE", "/{api}/{record_id}", responses=EMPTY_BODY, response_class=Response)
async def delete_record(request: Request) -> Response:
    principal = await get_principal(request)
    api, record_id = request.path_params["api"], request.path_params["record_id"]
    await Engines.of(request).write(
        api, principal, None, lambda engine, _values: engine.delete(principal, record_id)
    )
    return Response(status_code=200)


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes (206 for a Range, 304 for a matching ETag)."},
    400: {"description": "Not a file column, or a bad ``thumb``."},
    404: {"description": "No such record or file, or the caller may not read the record."},
}


@_routes("GET", "/{api}/{record_id}/file/{column}", THUMB_QUERY, responses=_FILE_RESPONSES)
async def download_file(request: Request) -> Response:
    return await _download(request, None)


@_routes(
    "GET",
    "/{api}/{record_id}/files/{column}/{filename}",
    THUMB_QUERY,
    responses=_FILE_RESPONSES,
)
async def download_one_of_files(request: Request) -> Response:
    return await _download(request, request.path_params["filename"])


async def _download(request: Request, filename: str | None) -> Response:
    """A file of a record the caller may read (the engine's read, rule in the SQL)."""
    principal = await get_principal(request)
    params = request.path_params
    api, record_id, column = params["api"], params["record_id"], params["column"]
    engines = Engines.of(request)
    table, file_column, files = await engines.read(
        api, lambda engine: (engine.table.name, *engine.files(principal, record_id, column))
    )
    file = pick_file(files, filename)
    return await file_response(request, engines.state, table, file_column, file)


async def _body(request: Request) -> Any:
    """A JSON body (object or array), or a url-encoded / multipart form as a flat object
    (file parts as uploads)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return await form_values(request)
    return parse_json_body(await request.body())
