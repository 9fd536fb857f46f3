"""Each function in ``/openapi.json``: its own path, request and response schemas.

Functions are loaded at start-up, after the app's routes exist, so they are added when the
document is first built (FastAPI builds it lazily and caches it). Each function gets
``POST /api/functions/<name>`` with its input and output as named component schemas (a
Pydantic model keeps its own name; another type is ``<Name>Input`` / ``<Name>Output``), so
generated clients are typed per function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from tinybase.functions.registry import FunctionRegistry, FunctionSpec
from tinybase.utils import AuthLevel

__all__ = ["ERROR_COMPONENT", "install_function_docs"]

ERROR_COMPONENT = "FunctionCallError"
_REF = "#/components/schemas/{model}"
_ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_COMPONENT,
    "type": "object",
    "properties": {
        "detail": {"title": "Detail", "description": "What went wrong (safe to show)."},
        "error_type": {"title": "Error Type", "type": "string"},
        "call_id": {"title": "Call Id", "type": "string", "format": "uuid"},
    },
    "required": ["detail", "error_type", "call_id"],
}


def install_function_docs(app: FastAPI, registry: Callable[[], FunctionRegistry | None]) -> None:
    """Make ``app.openapi()`` document every function of ``registry()`` (None: none yet)."""
    build = app.openapi

    built_for: list[int | None] = [None]

    def openapi() -> dict[str, Any]:
        functions = registry()
        version = None if functions is None else functions.version
        if app.openapi_schema is not None and built_for[0] == version:
            return app.openapi_schema
        app.openapi_schema = None  # isolated functions came or went: document them anew
        document = build()
        if functions is not None:
            add_functions(document, functions)
        app.openapi_schema, built_for[0] = document, version
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def add_functions(document: dict[str, Any], registry: FunctionRegistry) -> None:
    """Add a typed ``POST`` path per function of ``registry`` to an OpenAPI ``document``."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, _ERROR_SCHEMA)
    for spec in sorted(registry, key=lambda spec: spec.name):
        request = _component(components, spec, "input")
        response = _component(components, spec, "output")
        document["paths"][f"/api/functions/{spec.name}"] = {
            "post": _operation(spec, request, response)
        }


def _operation(spec: FunctionSpec, request: str, response: str) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": _REF.format(model=ERROR_COMPONENT)}}}
    responses: dict[str, Any] = {
        "200": {
            "description": "The function's output",
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=response)}}},
        },
        "400": {"description": "The function refused the payload", "content": error},
        "404": {"description": "No such function"},
        "413": {"description": "The body is too large"},
        "422": {"description": "The payload does not fit the input schema"},
        "500": {"description": "The function failed (see its call record)", "content": error},
        "504": {"description": "The function ran past its time limit", "content": error},
    }
    if spec.auth is not AuthLevel.PUBLIC:
        responses["401"] = {"description": "Not authenticated"}
    if spec.auth is AuthLevel.ADMIN:
        responses["403"] = {"description": "Admins only"}
    security: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
    if spec.auth is AuthLevel.PUBLIC:
        security.append({})
    return {
        "tags": ["functions", *spec.tags],
        "summary": spec.description or spec.name,
        "operationId": f"call_function_{spec.name.replace('-', '_')}",
        "security": security,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=request)}}},
        },
        "responses": responses,
    }


def _component(components: dict[str, Any], spec: FunctionSpec, kind: str) -> str:
    """Put the JSON Schema of ``spec``'s input or output ``kind`` (and the models it refers
    to) into ``components``; return the name it is filed under."""
    role = kind.capitalize()
    schema = spec.json_schema(kind, ref_template=_REF)
    for name, nested in schema.pop("$defs", {}).items():
        components.setdefault(name, nested)
    own = spec.model_name(kind)
    name = own or _camel(spec.name) + role
    if components.get(name, schema) != schema:  # another schema already has the name
        name = f"{_camel(spec.name)}{role}{'_' + own if own else ''}"
    components[name] = schema
    return name


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))
