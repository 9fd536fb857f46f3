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
    GET    /api/collections/{name}/records/{id}/files/{field}[/{filename}]
                                                  a file of a file field (if the record
                                                  is readable)

Record writes take ``{"data": {...}}`` as JSON (file fields: upload objects with base64
``data``) or ``multipart/form-data`` (file parts for file fields, text parts for the others,
and optionally a ``data`` part holding a JSON object of fields).

Access rules are enforced by the record engine inside the SQL; handlers only pass the caller.
Record handlers take only the ``Request``: they resolve the caller with a plain call
(:func:`tinybase.api.deps.get_principal`, its token cached) and parse their path, query and
body themselves, because FastAPI's per-parameter solving cost more than the rest of a
record read. Their parameters, body and the bearer scheme are documented through
``openapi_extra`` (:func:`tinybase.api.routing.plain_route_docs`), so /docs still shows them;
they live on ``records_router``, whose :class:`~tinybase.api.routing.PlainRoute` calls them
without FastAPI's parameter solving.
The caller is resolved first: a bad token is a 401 before any parameter is checked.
Record handlers are ``async`` and send their one blocking call (catalog lookup, validation
and the engine) to the database's :class:`~tinybase.records.executor.DatabaseExecutor`
(see :mod:`tinybase.api.routes.trailbase_records`); collection management stays plain ``def``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from tinybase.api.bodies import RequestBody
from tinybase.api.deps import (
    BEARER_DOCS,
    AdminUser,
    CurrentPrincipal,
    State,
    app_state,
    client_ip,
    get_principal,
)
from tinybase.api.files import THUMB_QUERY, file_response, form_values, pick_file, write_with_files
from tinybase.api.json_body import parse_json_body
from tinybase.api.record_docs import COLLECTION_FILTERS, CollectionRecord, CollectionRecordPage
from tinybase.api.responses import JSONResponse
from tinybase.api.routing import PlainRoute, plain_route_docs
from tinybase.auth.principal import Principal
from tinybase.collections.access import may_see
from tinybase.collections.catalog import collection_row, collection_view, definition_of
from tinybase.collections.collection_records import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    Within,
)
from tinybase.errors import BadRequestError, NotFoundError, ValidationError
from tinybase.records.conflicts import caller_key
from tinybase.records.engine import RecordEngine

_T = TypeVar("_T")

router = APIRouter(prefix="/api/collections", tags=["collections"])
records_router = APIRouter(prefix="/api/collections", tags=["collections"], route_class=PlainRoute)


class CollectionCreate(RequestBody):
    """The body of ``POST /api/collections``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    label: str | None = None
    schema_: dict[str, Any] = Field(default_factory=lambda: {"fields": []}, alias="schema")
    options: dict[str, Any] | None = None


class CollectionUpdate(RequestBody):
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

    @classmethod
    async def data_of(cls, request: Request) -> dict[str, Any]:
        """The field values of the request's JSON body.

        Parsed here, after the caller is known (a bad token is a 401 before any body
        check), rather than declared as a parameter: FastAPI's solving costs more than the
        parsing. Parsed by :func:`~tinybase.api.json_body.parse_json_body`, as the other
        record bodies are (Pydantic's parser names no field for a lone surrogate), then
        checked by the model; malformed JSON stays the 422 FastAPI gives.

        Raises:
            RequestValidationError: not JSON, or not ``{"data": {...}}`` (422, named).
            ValidationError: a lone surrogate in a string or key (422, named).
        """
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return await cls._form_data(request)
        try:
            body = parse_json_body(await request.body())
        except BadRequestError as exc:
            error = {"loc": ("body",), "msg": exc.detail, "type": "json_invalid"}
            raise RequestValidationError([error]) from None
        try:
            return cls.model_validate(body).data
        except PydanticValidationError as exc:
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
            ) from None

    @classmethod
    async def _form_data(cls, request: Request) -> dict[str, Any]:
        """A form's fields (file parts as uploads); a ``data`` part is a JSON object of
        fields (for clients whose values are not all text)."""
        values = await form_values(request)
        embedded = values.pop("data", None)
        if isinstance(embedded, str):
            try:
                parsed = parse_json_body(embedded.encode())
            except BadRequestError as exc:
                raise ValidationError.for_field("data", exc.detail) from None
            if not isinstance(parsed, dict):
                raise ValidationError.for_field("data", "expected a JSON object")
            values = parsed | values
        return values

    @classmethod
    def docs(cls) -> dict[str, Any]:
        """The request body object for the OpenAPI docs."""
        schema = cls.model_json_schema()
        return {"required": True, "content": {"application/json": {"schema": schema}}}


class ListOptions(BaseModel):
    """The list options of ``GET /{name}/records``; every other query key is a filter."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: str | None = None
    sort_order: str = Field("desc", pattern="^(asc|desc)$")
    cursor: str | None = None

    @classmethod
    def from_query(cls, request: Request) -> ListOptions:
        """The options of the request's query string (the last value of a repeated key).

        Parsed here rather than declared as parameters: FastAPI's per-parameter solving
        cost more than the rest of the handler. Same checks, same 422 through the one
        error handler.

        Raises:
            RequestValidationError: a bad value (422, the parameter named).
        """
        query = request.query_params
        given = {name: query[name] for name in cls.model_fields if name in query}
        try:
            return cls.model_validate(given)
        except PydanticValidationError as exc:
            raise RequestValidationError(
                [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
            ) from None

    @classmethod
    def docs(cls) -> dict[str, dict[str, Any]]:
        """The options' JSON schemas by name, for the OpenAPI docs."""
        return dict(cls.model_json_schema()["properties"])


@records_router.get(
    "/{name}/records",
    openapi_extra=plain_route_docs(("name",), ListOptions.docs(), parameters=COLLECTION_FILTERS),
    responses={200: {"model": CollectionRecordPage}},
)
async def list_records(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    options = ListOptions.from_query(request)
    name = request.path_params["name"]
    state = app_state(request)
    filters = request.query_params.multi_items()
    page = await state.executor.read(
        lambda: state.records.list(
            principal,
            name,
            filters=filters,
            limit=options.limit,
            offset=options.offset,
            sort_by=options.sort_by,
            sort_order=options.sort_order,
            cursor=options.cursor,
        )
    )
    return JSONResponse(page.to_json())


@records_router.post(
    "/{name}/records",
    status_code=201,
    openapi_extra=plain_route_docs(("name",), body=RecordBody.docs()),
    responses={201: {"model": CollectionRecord}},
)
async def create_record(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    data = await RecordBody.data_of(request)
    name = request.path_params["name"]
    records = app_state(request).records
    record = await _write(
        request,
        principal,
        name,
        data,
        lambda values, within: records.create(principal, name, values, within=within),
    )
    return JSONResponse(record, status_code=201)


@records_router.get(
    "/{name}/records/{record_id}",
    openapi_extra=plain_route_docs(("name", "record_id")),
    responses={200: {"model": CollectionRecord}},
)
async def get_record(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    name, record_id = request.path_params["name"], request.path_params["record_id"]
    state = app_state(request)
    record = await state.executor.read(lambda: state.records.read(principal, name, record_id))
    return JSONResponse(record)


@records_router.patch(
    "/{name}/records/{record_id}",
    openapi_extra=plain_route_docs(("name", "record_id"), body=RecordBody.docs()),
    responses={200: {"model": CollectionRecord}},
)
async def update_record(request: Request) -> JSONResponse:
    principal = await get_principal(request)
    data = await RecordBody.data_of(request)
    name, record_id = request.path_params["name"], request.path_params["record_id"]
    records = app_state(request).records
    record = await _write(
        request,
        principal,
        name,
        data,
        lambda values, within: records.update(principal, name, record_id, values, within=within),
    )
    return JSONResponse(record)


@records_router.delete(
    "/{name}/records/{record_id}",
    status_code=204,
    openapi_extra=plain_route_docs(("name", "record_id")),
)
async def delete_record(request: Request) -> Response:
    principal = await get_principal(request)
    name, record_id = request.path_params["name"], request.path_params["record_id"]
    state = app_state(request)
    await state.executor.write(lambda: state.records.delete(principal, name, record_id))
    return Response(status_code=204)


async def _write(
    request: Request,
    principal: Principal,
    name: str,
    data: dict[str, Any],
    write: Callable[[dict[str, Any], Within[_T]], _T],
) -> _T:
    """``write(data, within)`` in the writer thread, the uploads in ``data`` stored first;
    ``within`` runs the engine's write within the caller's conflict budget when a conflict
    could reveal something (:mod:`tinybase.records.conflicts`)."""
    state = app_state(request)

    def within(engine: RecordEngine, call: Callable[[], _T]) -> _T:
        if not engine.conflicts_may_reveal(principal):
            return call()  # the caller's key (their address, when anonymous) is not needed
        caller = caller_key(principal, client_ip(request))
        return state.conflicts.run(caller, call, guarded=True)

    async def submit(values: dict[str, Any]) -> _T:
        return await state.executor.write(lambda: write(values, within))

    return await write_with_files(state, name, data, submit, loc=("body", "data"))


_FILE_DOCS = plain_route_docs(("name", "record_id", "field"), THUMB_QUERY)
_ONE_FILE_DOCS = plain_route_docs(("name", "record_id", "field", "filename"), THUMB_QUERY)


@records_router.get("/{name}/records/{record_id}/files/{field}", openapi_extra=_FILE_DOCS)
async def download_file(request: Request) -> Response:
    return await _download(request, None)


@records_router.get(
    "/{name}/records/{record_id}/files/{field}/{filename}", openapi_extra=_ONE_FILE_DOCS
)
async def download_one_of_files(request: Request) -> Response:
    return await _download(request, request.path_params["filename"])


async def _download(request: Request, filename: str | None) -> Response:
    """A file of a record the caller may read: the collection's read rule decides, in the
    engine's SQL."""
    principal = await get_principal(request)
    params = request.path_params
    name, record_id, field = params["name"], params["record_id"], params["field"]
    state = app_state(request)
    table, file_field, files = await state.executor.read(
        lambda: state.records.files(principal, name, record_id, field)
    )
    return await file_response(request, state, table, file_field, pick_file(files, filename))


@router.get("", openapi_extra=BEARER_DOCS)
def list_collections(state: State, principal: CurrentPrincipal) -> JSONResponse:
    collections = state.collections.list()
    visible = [c for c in collections if may_see(principal, definition_of(c).api)]
    return JSONResponse([collection_view(c, principal) for c in visible])


@router.post("", status_code=201)
def create_collection(body: CollectionCreate, state: State, _admin: AdminUser) -> JSONResponse:
    created = state.collections.create(
        body.name, body.label or body.name, body.schema_, body.options
    )
    return JSONResponse(collection_row(created), status_code=201)


@router.get("/{name}", openapi_extra=BEARER_DOCS)
def get_collection(name: str, state: State, principal: CurrentPrincipal) -> JSONResponse:
    collection = state.collections.get(name)
    if collection is None or not may_see(principal, definition_of(collection).api):
        raise NotFoundError(f"collection {name!r} not found")
    return JSONResponse(collection_view(collection, principal))


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
    return JSONResponse(collection_row(updated))


@router.delete("/{name}", status_code=204)
def delete_collection(name: str, state: State, _admin: AdminUser) -> Response:
    state.collections.delete(state.collections.require(name))
    return Response(status_code=204)
