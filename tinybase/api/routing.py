"""Plain routes: the record API's hot path, without FastAPI's per-request parameter solving.

A record handler takes the ``Request`` alone and returns a ``Response``: it resolves the
caller with :func:`tinybase.api.deps.get_principal` (a cached token check) and reads its
path, query and body itself. FastAPI's request handler would still solve dependencies,
read the query string and cookies, and open telemetry spans for every such request; a
:class:`PlainRoute` calls the endpoint directly. The route is still an ``APIRoute``
(FastAPI's documented extension point is ``get_route_handler``), so it keeps its place in
the routing table, its middleware and exception handlers, and its OpenAPI entry, whose
parameters come from :func:`plain_route_docs`.

The app adds plain routes to its own router (:func:`add_plain_routes`) instead of including
their routers: FastAPI matches an included router's routes through a per-request layer of
its own (each candidate route matched with its include context saved and restored in the
scope, the chosen router matched twice), a fifth of a record read's time. The route
modules still declare an ``APIRouter`` each, as every other route module does.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from tinybase.api.deps import BEARER_DOCS

__all__ = ["PlainRoute", "add_plain_routes", "plain_route_docs"]


class PlainRoute(APIRoute):
    """An ``APIRoute`` whose endpoint is ``async def (request) -> Response``, called as is.

    Use it as the ``route_class`` of a router whose handlers all have that signature; they
    get no dependencies, no parameter validation and no response model.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


def add_plain_routes(target: APIRouter, source: APIRouter) -> None:
    """Add the routes ``source`` declares to ``target`` itself, not as an included router.

    Every route of ``source`` must be a :class:`PlainRoute` (no dependencies, no response
    model: nothing else to carry over than what is copied here).

    Raises:
        TypeError: ``source`` has a route of another kind.
    """
    for route in source.routes:
        if not isinstance(route, PlainRoute) or route.dependencies:
            raise TypeError(f"{getattr(route, 'path', route)!r} is not a plain route")
        target.add_api_route(
            route.path,
            route.endpoint,
            methods=sorted(route.methods),
            name=route.name,
            status_code=route.status_code,
            tags=route.tags,
            summary=route.summary,
            description=route.description,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            responses=route.responses,
            openapi_extra=route.openapi_extra,
            route_class_override=PlainRoute,
        )


def plain_route_docs(
    path: tuple[str, ...] = (),
    query: dict[str, dict[str, Any]] | None = None,
    *,
    parameters: Sequence[dict[str, Any]] = (),
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``openapi_extra`` for a :class:`PlainRoute`: its parameters, body and bearer scheme.

    The handler reads ``path_params`` / ``query_params`` and its body itself (checked by
    the handler); this keeps them in the OpenAPI docs. The token is optional (an anonymous
    call is answered by the access rules), and so documented. Response shapes are the
    route's ``responses`` (models there become named component schemas).

    Args:
        path: the names of the path parameters (strings, required).
        query: optional query parameters: name -> JSON schema (a schema's
            ``description`` is the parameter's too).
        parameters: further parameter objects, as written (free-form filters).
        body: the OpenAPI request body object.
    """
    documented: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path
    ]
    documented += [_query_parameter(name, schema) for name, schema in (query or {}).items()]
    documented += parameters
    docs = {**BEARER_DOCS, "parameters": documented}
    if body is not None:
        docs["requestBody"] = body
    return docs


def _query_parameter(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    if "description" in schema:
        parameter["description"] = schema["description"]
    return parameter
