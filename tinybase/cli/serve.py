"""``tinybase serve``: run the server with uvicorn."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer
import uvicorn
from fastapi import FastAPI

from tinybase.api.app import create_app
from tinybase.api.logs import uvicorn_log_config
from tinybase.api.startup import build_state
from tinybase.auth.setup import ensure_setup_token, listening_url, setup_url
from tinybase.cli.common import read_config
from tinybase.settings import Config, environment_variable

__all__ = ["serve"]

logger = logging.getLogger("tinybase.cli")

# An import string and factory=True, so that every worker (and the reloader's child)
# builds its own app, engines and background tasks.
APP_FACTORY = "tinybase.cli.serve:create_served_app"


def serve(
    host: str | None = typer.Option(None, help="Interface to listen on [config: server_host]."),
    port: int | None = typer.Option(None, help="TCP port [config: server_port]."),
    reload: bool = typer.Option(False, help="Restart when the code changes (development)."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    access_log: bool = typer.Option(
        True,
        "--access-log/--no-access-log",
        help="One log line per request at log level info (costs ~20% of peak req/s).",
    ),
) -> None:
    """Serve the API, /docs and /health; creates and migrates the database on first run."""
    if reload and workers > 1:
        raise typer.BadParameter("--reload runs one process; drop --workers", param_hint="--reload")
    config = read_config()
    host, port = host or config.server_host, port or config.server_port
    prepare_instance(config, host=host, port=port)
    if "public_url" not in config.model_fields_set:
        # Every server process reads its configuration again (workers, the reloader's
        # child): the links they mail (password resets) must name this address, not the
        # default's port 8000.
        os.environ[environment_variable("public_url")] = listening_url(host, port)
    if workers > 1 and config.realtime_shared is None:
        # The workers share the database: realtime events must reach every one of them.
        os.environ[environment_variable("realtime_shared")] = "true"
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        log_level=config.log_level,
        log_config=uvicorn_log_config(),
        access_log=access_log,
    )


def create_served_app() -> FastAPI:
    """:func:`create_app` for a server process: after start-up, the heap is frozen for the GC.

    Everything built until then (modules, routes, models, engines) lives as long as the
    process. Left in the collected generations, it makes every full collection walk some
    150,000 objects: a pause of about 50 ms on this machine, felt by every request in flight
    (it was the main cause of the p99 latency). ``gc.freeze()`` moves them out of the GC's
    reach; later collections only walk what requests create. Only the server does this:
    tests build many apps in one process and must get their garbage collected.
    """
    app = create_app()
    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with startup(app):
            gc.collect()
            gc.freeze()
            yield

    app.router.lifespan_context = lifespan
    return app


def prepare_instance(config: Config, *, host: str, port: int) -> None:
    """Create and migrate the database once, before any worker starts; without an admin,
    print the one-time setup URL (only the console ever shows it), on ``public_url`` if
    set, else on the ``host`` and ``port`` the server is about to listen on."""
    state = build_state(config)
    try:
        token = ensure_setup_token(state.db, config)
    finally:
        state.close()
    if token is not None:
        typer.secho(
            "No admin yet. Create the first one (link valid 24 hours, shown only here):\n"
            f"  {setup_url(config, token, host=host, port=port)}\n"
            "or run: tinybase admin add EMAIL PASSWORD",
            fg=typer.colors.YELLOW,
        )
