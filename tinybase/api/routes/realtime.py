"""Realtime routes: record subscriptions for both API families.

    GET  /api/records/v1/{api}/subscribe/{id | *}   SSE (TrailBase's frames); filters as a list's
    WS   /api/records/v1/{api}/subscribe/{id | *}?ws=true   the same over a WebSocket
    GET  /api/realtime                              TinyBase: one SSE stream, sends a client id
    POST /api/realtime                              TinyBase: set that client's subscriptions

Each handler authenticates, checks the topic (:mod:`tinybase.realtime.topics`, in a reader
thread), registers the subscription and only then answers: the npm ``trailbase`` client
returns from ``subscribe()`` when the headers arrive, and a write right after must be seen.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect

from tinybase.api.deps import BEARER_DOCS, app_state, bearer_token, get_principal
from tinybase.api.event_stream import EventStreamResponse, serve_websocket
from tinybase.api.json_body import parse_json_body
from tinybase.api.record_docs import TRAILBASE_FILTERS
from tinybase.api.routing import plain_route_docs
from tinybase.api.state import AppState
from tinybase.auth.principal import ANONYMOUS, Principal
from tinybase.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    TinyBaseError,
    ValidationError,
)
from tinybase.realtime.framing import TinyBaseSse, TrailBaseSse, TrailBaseWebSocket
from tinybase.realtime.topics import Topic, parse_topic, resolve_topic
from tinybase.records.filters import parse_filters

router = APIRouter(tags=["realtime"])

SUBSCRIBE_PATHS = (
    "/api/records/v1/{api}/subscribe/{record_id}",
    "/api/v1/records/{api}/subscribe/{record_id}",
)
MAX_TOPICS = 100
WS_INIT_SECONDS = 10.0
_SSE = {200: {"content": {"text/event-stream": {}}, "description": "An event stream."}}
_SUBSCRIBE_DOCS = plain_route_docs(
    ("api", "record_id"),
    {"ws": {"type": "boolean", "description": "Upgrade to a WebSocket (TrailBase's `ws=true`)."}},
    parameters=TRAILBASE_FILTERS,
)


async def subscribe_sse(request: Request) -> Response:
    """Subscribe to a record (``{id}``) or every record (``*``, filters allowed) of an API."""
    if request.query_params.get("ws", "").lower() in ("true", "1"):
        raise BadRequestError("ws=true needs a WebSocket upgrade")
    state = app_state(request)
    principal = await get_principal(request)
    topic = await _trailbase_topic(state, principal, request.path_params, request.query_params)
    service, token = state.realtime, bearer_token(request)
    stream = service.open(principal, _expiry(state, token), TrailBaseSse())
    stream.revoked = _revocation(state, token)
    service.replace(stream, [topic.bind(stream)])
    return EventStreamResponse(service, stream)


async def subscribe_ws(websocket: WebSocket) -> None:
    """The WebSocket variant: TrailBase's ``{"Init":{"auth_token":...}}`` first message,
    refusals as close codes (1008 unauthorized or denied, 1011 no Init, 1013 too many)."""
    await websocket.accept()
    state: AppState = websocket.app.state.tinybase
    try:
        principal, token = await _websocket_caller(state, websocket)
    except WebSocketDisconnect:  # gone before its Init
        return
    except (AuthenticationError, TimeoutError, ValueError):
        await websocket.close(1008, "unauthorized")
        return
    service, expires = state.realtime, _expiry(state, token)
    try:
        params = websocket.path_params
        topic = await _trailbase_topic(state, principal, params, websocket.query_params)
        stream = service.open(principal, expires, TrailBaseWebSocket())
    except TinyBaseError as exc:
        await websocket.close(1013 if exc.status_code == 429 else 1008, _reason(exc))
        return
    stream.revoked = _revocation(state, token)
    service.replace(stream, [topic.bind(stream)])
    await serve_websocket(service, stream, websocket)


for _path in SUBSCRIBE_PATHS:
    _primary = _path == SUBSCRIBE_PATHS[0]
    router.add_api_route(
        _path,
        subscribe_sse,
        methods=["GET"],
        include_in_schema=_primary,
        responses=_SSE,
        openapi_extra=_SUBSCRIBE_DOCS,
    )
    router.add_api_websocket_route(_path, subscribe_ws)


@router.get("/api/realtime", responses=_SSE)
async def open_realtime(request: Request) -> Response:
    """Open a TinyBase realtime stream: its first event carries the ``client_id`` that
    ``POST /api/realtime`` takes. Anonymous until a subscribe names the caller."""
    service = app_state(request).realtime
    client_id = secrets.token_urlsafe(30)
    stream = service.open(ANONYMOUS, None, TinyBaseSse(client_id))
    stream.client_id = client_id
    service.clients[client_id] = stream
    return EventStreamResponse(service, stream)


@router.post("/api/realtime", status_code=204, openapi_extra=BEARER_DOCS)
async def set_subscriptions(request: Request) -> Response:
    """Replace a client's subscriptions: ``{"client_id": ..., "subscriptions": ["posts",
    "posts/ID", "posts?score[gt]=5"]}``, under the caller's token (which the stream then
    uses, until it expires)."""
    state = app_state(request)
    principal = await get_principal(request)
    client_id, texts = _subscribe_body(parse_json_body(await request.body()))
    stream = state.realtime.clients.get(client_id)
    if stream is None:
        raise NotFoundError("no such realtime client (open GET /api/realtime first)")
    if stream.principal.user_id not in (None, principal.user_id):
        raise PermissionDeniedError("this stream belongs to another user")
    parsed = [(text, parse_topic(text)) for text in texts]

    def resolve() -> list[Topic]:
        return [
            resolve_topic(
                state.record_apis,
                principal,
                api=api,
                record_id=record_id,
                filters=filters,
                topic=text,
                shape="record",
            )
            for text, (api, record_id, filters) in parsed
        ]

    topics = await state.executor.read(resolve)
    if stream.ended:
        raise NotFoundError("no such realtime client (open GET /api/realtime first)")
    token = bearer_token(request)
    state.realtime.set_principal(stream, principal, _expiry(state, token))
    stream.revoked = _revocation(state, token)
    state.realtime.replace(stream, [topic.bind(stream) for topic in topics])
    return Response(status_code=204)


def _subscribe_body(body: Any) -> tuple[str, list[Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("client_id"), str):
        raise ValidationError.for_field("client_id", "required (the id the stream sent)")
    texts = body.get("subscriptions", [])
    if not isinstance(texts, list) or len(texts) > MAX_TOPICS:
        raise ValidationError.for_field("subscriptions", f"a list of at most {MAX_TOPICS} topics")
    return body["client_id"], texts


async def _trailbase_topic(
    state: AppState, principal: Principal, path: dict[str, Any], query: Any
) -> Topic:
    api, record_id = path["api"], path["record_id"]
    filters = parse_filters([(k, v) for k, v in query.multi_items() if k != "ws"])
    topic = f"{api}/{record_id}"

    def resolve() -> Topic:
        return resolve_topic(
            state.record_apis,
            principal,
            api=api,
            record_id=None if record_id == "*" else record_id,
            filters=filters,
            topic=topic,
            shape="row",
        )

    return await state.executor.read(resolve)


async def _websocket_caller(state: AppState, websocket: WebSocket) -> tuple[Principal, str | None]:
    """The caller of a WebSocket: its ``Authorization`` header, else the Init message's token.

    Raises:
        AuthenticationError: a bad token. TimeoutError: no Init within 10 s.
        ValueError: a first message that is not TrailBase's Init (or not text).
        WebSocketDisconnect: the client went away first.
    """
    token = bearer_token(websocket)  # type: ignore[arg-type]  # it reads only the headers
    if token is None:
        message = await asyncio.wait_for(websocket.receive(), WS_INIT_SECONDS)
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if message.get("text") is None:  # a binary frame (receive_text: a KeyError)
            raise ValueError("the Init message must be a text frame")
        init = orjson.loads(message["text"])
        if not isinstance(init, dict) or not isinstance(init.get("Init"), dict):
            raise ValueError('expected {"Init": {"auth_token": ...}}')
        token = init["Init"].get("auth_token")
        if token is not None and not isinstance(token, str):
            raise ValueError("auth_token must be a string or null")
    if token is None:
        return ANONYMOUS, None
    principal = state.tokens.verify_in_memory(token)
    if principal is None:
        principal = await asyncio.to_thread(state.tokens.verify, token)
    return principal, token


def _expiry(state: AppState, token: str | None) -> float | None:
    """When a verified access token expires (epoch seconds)."""
    return None if token is None else float(state.tokens.claims(token)["exp"])


def _revocation(state: AppState, token: str | None) -> Callable[[], bool] | None:
    """Whether the token's session has been revoked since (from memory: no query)."""
    if token is None:
        return None

    def revoked() -> bool:
        try:
            state.tokens.verify_in_memory(token)
        except AuthenticationError:
            return True
        return False

    return revoked


def _reason(exc: TinyBaseError) -> str:
    return str(getattr(exc, "detail", None) or exc)[:120]
