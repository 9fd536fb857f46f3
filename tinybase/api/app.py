"""The app factory: builds the FastAPI app, its middleware, routers and start-up state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from tinybase import __version__
from tinybase.api.errors import install_error_handlers
from tinybase.api.files import upload_limit_for
from tinybase.api.function_docs import install_function_docs
from tinybase.api.logs import configure_logging
from tinybase.api.loopback import api_loopback
from tinybase.api.middleware import BodySizeLimitMiddleware, CORSMiddleware, RequestIdMiddleware
from tinybase.api.responses import JSONResponse
from tinybase.api.routes import (
    admin,
    auth,
    collections,
    docs,
    extensions,
    functions,
    health,
    realtime,
    record_apis,
    schedules,
    settings,
    setup_page,
    trailbase_auth,
    trailbase_records,
    transaction,
)
from tinybase.api.routing import add_plain_routes
from tinybase.api.startup import build_state
from tinybase.extensions.hooks import HookKind
from tinybase.functions.registry import FunctionRegistry
from tinybase.settings import Config, load_config

__all__ = ["create_app", "telemetry_settings"]

_NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def create_app(config: Config | None = None) -> FastAPI:
    """Build the TinyBase ASGI app; engines and workers start in its lifespan."""
    config = config or load_config()
    configure_logging(config.log_level)
    app = FastAPI(
        title="TinyBase",
        version=__version__,
        lifespan=_lifespan,
        default_response_class=JSONResponse,
        debug=config.debug,
        telemetry=telemetry_settings(config),
        # Served by tinybase.api.routes.docs from vendored files, not from CDNs.
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    install_error_handlers(app)
    # Innermost of the middleware: its 413 still gets the CORS and request-id headers.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_size=config.server_max_body_size,
        limits={"/api/functions/": config.function_max_payload_bytes},
        upload_limit=lambda path, multipart: upload_limit_for(
            app.state.tinybase, path, multipart=multipart
        ),
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=config.cors_allow_origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(RequestIdMiddleware)
    # The record families first: FastAPI tries routes in order, and these carry the traffic
    # (the prefixes are disjoint, so the order changes nothing else). They are the app's
    # own routes, not included routers (see tinybase.api.routing).
    add_plain_routes(app.router, trailbase_records.router)
    add_plain_routes(app.router, collections.records_router)
    add_plain_routes(app.router, functions.call_router)
    for module in (
        collections,
        health,
        auth,
        trailbase_auth,
        admin,
        extensions,
        functions,
        settings,
        setup_page,
        record_apis,
        schedules,
        transaction,
        realtime,
        docs,
    ):
        app.include_router(module.router)
    app.include_router(functions.admin_router)
    install_function_docs(app, lambda: _registry(app))
    app.mount(docs.STATIC_PATH, docs.static_files(), name="docs-static")
    # The undocumented /api/v1/records aliases last: no other path tries them first.
    add_plain_routes(app.router, trailbase_records.aliases)
    return app


def _registry(app: FastAPI) -> FunctionRegistry | None:
    state = getattr(app.state, "tinybase", None)
    return None if state is None or state.functions is None else state.functions.registry


def telemetry_settings(config: Config) -> TelemetryConfig | None:
    """FastAPI's native OpenTelemetry support: its defaults when enabled, else off.

    Off by default: FastAPI otherwise looks up the global tracer, meter and logger providers
    on every request (about 7% of a record read) to learn that none is set up.
    """
    return None if config.opentelemetry_enabled else _NO_TELEMETRY


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = await anyio.to_thread.run_sync(build_state, app.state.config)
    app.state.tinybase = state
    if state.functions is not None:
        state.functions.isolated.bind_api(api_loopback(app))
    try:
        async with anyio.create_task_group() as background:
            state.start_background(background)
            state.hooks.start()
            await state.hooks.run(HookKind.STARTUP)
            yield
            # Queued after-commit hooks first (bounded), then the on_shutdown hooks.
            await state.hooks.close(state.config.extensions_drain_seconds)
            await state.hooks.run(HookKind.SHUTDOWN)
            background.cancel_scope.cancel()
    finally:
        await anyio.to_thread.run_sync(state.close)
