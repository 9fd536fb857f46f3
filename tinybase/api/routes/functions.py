"""Routes of functions: calling them, and the admin's view of them and their calls.

    GET  /api/functions                      the functions the caller may call
    GET  /api/functions/{name}               one, with its input and output JSON Schema
    POST /api/functions/{name}               call it: JSON body -> its output (200)
    GET  /api/admin/functions                every function, and the modules that failed
    GET  /api/admin/functions/calls          call records, newest first (filters, cursor)
    GET  /api/admin/functions/calls/{id}     one call record, with its traceback
    PUT  /api/admin/functions/{name}         deploy an isolated function's script (a version)
    DELETE /api/admin/functions/{name}       stop serving a deployed function (a version)
    GET  /api/admin/functions/{name}/versions          its deployed versions, newest first
    POST /api/admin/functions/{name}/rollback          deploy an older version again

A call's errors: 401/403 by the function's auth level, 404 for an unknown name, 413 past
``function_max_payload_bytes``, 422 naming the field of a bad payload; a function that
raises answers ``{"detail", "error_type", "call_id"}`` (4xx for ``ValueError`` and
``FunctionError``, 500 with a generic detail otherwise, 504 past the time limit).
The call route is a :class:`~tinybase.api.routing.PlainRoute` (a hot path: no FastAPI
parameter solving); each function is documented with its own schemas by
:mod:`tinybase.api.function_docs`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from tinybase.api.deps import BEARER_DOCS, AdminUser, CurrentPrincipal, State, get_principal
from tinybase.api.deps import app_state as state_of
from tinybase.api.json_body import parse_json_body
from tinybase.api.responses import JSONResponse
from tinybase.api.routing import PlainRoute
from tinybase.functions.calls import CallFilter
from tinybase.functions.service import Functions

__all__ = ["admin_router", "call_router", "router"]

router = APIRouter(prefix="/api/functions", tags=["functions"])
call_router = APIRouter(prefix="/api/functions", tags=["functions"], route_class=PlainRoute)
admin_router = APIRouter(prefix="/api/admin/functions", tags=["admin"])


def _functions(state: Any) -> Functions:
    assert state.functions is not None  # built at start-up
    return state.functions


@router.get("", openapi_extra=BEARER_DOCS)
async def list_functions(state: State, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The functions the caller may call: public ones for everyone, ``auth`` ones for
    users, ``admin`` ones for admins."""
    return [spec.public() for spec in _functions(state).registry.callable_by(principal)]


@router.get("/{name}", openapi_extra=BEARER_DOCS)
async def read_function(name: str, state: State, principal: CurrentPrincipal) -> dict[str, Any]:
    """One function with its input and output JSON Schema (401/403 as for a call)."""
    spec = _functions(state).registry.get(name)
    spec.check_caller(principal)
    return {
        **spec.public(),
        "input_schema": spec.json_schema("input"),
        "output_schema": spec.json_schema("output"),
    }


@call_router.post("/{name}", include_in_schema=False)
async def call_function(request: Request) -> Response:
    """Call a function (documented per function by :mod:`tinybase.api.function_docs`)."""
    principal = await get_principal(request)
    functions = _functions(state_of(request))
    spec = functions.registry.get(request.path_params["name"])
    spec.check_caller(principal)  # before the body is parsed: a 401/403 learns nothing
    raw = await request.body()
    payload = parse_json_body(raw) if raw.strip() else {}
    output = await functions.runner.call(spec, payload, principal=principal, request=request)
    return JSONResponse(output)


@admin_router.get("")
async def list_all_functions(state: State, _admin: AdminUser) -> dict[str, Any]:
    """Every function (with its kind and the module or script that registered it), every
    function module that failed to import at start-up (file, error, traceback), and every
    isolated function script with its state (preparing, ready, failed with its error)."""
    functions = _functions(state)
    return {
        "functions": [
            {**spec.public(), "kind": spec.kind, "module": spec.module, "place": spec.place}
            for spec in sorted(functions.registry, key=lambda spec: spec.name)
        ],
        "failures": [failure.public() for failure in functions.load.failures],
        "scripts": functions.isolated.listing(),
    }


@admin_router.get("/calls")
def list_calls(
    state: State,
    _admin: AdminUser,
    function: str | None = None,
    status: str | None = None,
    trigger: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Call records, newest first; ``next_cursor`` continues the list (None: the end)."""
    where = CallFilter(
        function_name=function, status=status, trigger_type=trigger, since=since, until=until
    )
    page = _functions(state).calls.list(where, limit=limit, cursor=cursor)
    return {"calls": page.calls, "next_cursor": page.next_cursor}


@admin_router.get("/calls/{call_id}")
def read_call(call_id: str, state: State, _admin: AdminUser) -> dict[str, Any]:
    """One call record, with the traceback of a failed call."""
    return _functions(state).calls.get(call_id)


class Deploy(BaseModel):
    """A script to deploy: a ``tinybase_sdk`` function with its ``# /// script`` block."""

    source: str = Field(description="The script's whole text.")
    note: str | None = Field(None, max_length=1000, description="Why (kept with the version).")


class Rollback(BaseModel):
    """The version whose source is deployed again."""

    version: int = Field(ge=1)


@admin_router.put("/{name}")
async def deploy_function(
    name: str, body: Deploy, state: State, admin: AdminUser
) -> dict[str, Any]:
    """Deploy a script as the newest version of ``name``: it must parse, prepare, load and
    register ``name`` (422 naming the problem); every process serves it within seconds."""
    isolated = _functions(state).isolated
    return await isolated.deploy(name, body.source, user_id=admin.user_id, note=body.note)


@admin_router.delete("/{name}")
async def undeploy_function(name: str, state: State, admin: AdminUser) -> dict[str, Any]:
    """Stop serving the deployed function ``name`` (recorded as a version without source)."""
    return await _functions(state).isolated.undeploy(name, user_id=admin.user_id)


@admin_router.get("/{name}/versions")
def list_versions(name: str, state: State, _admin: AdminUser) -> list[dict[str, Any]]:
    """The deployed versions of ``name``, newest first (the newest is served)."""
    deploys = _functions(state).isolated.deploys
    return [] if deploys is None else deploys.versions(name)


@admin_router.post("/{name}/rollback")
async def rollback_function(
    name: str, body: Rollback, state: State, admin: AdminUser
) -> dict[str, Any]:
    """Deploy the source of an older version again, as a new version (404: no such one)."""
    isolated = _functions(state).isolated
    return await isolated.rollback(name, body.version, user_id=admin.user_id)
