"""The ceiling reference: what a bare Python ASGI app does per core on this machine.

A Starlette app on uvicorn with two routes: ``GET /hello`` (no database) and
``GET /items/{id}`` (one SQLite row by primary key, as JSON). No auth, no validation, no
access rules: it bounds from above what any Python server can do here, TinyBase included.
The database path comes from ``CEILING_DB``; ``bench/ceiling_system.py`` creates and seeds it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["app"]

_db: dict[str, sqlite3.Connection] = {}


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def get_item(request: Request) -> Response:
    # Run on the event loop on purpose: a primary-key read is a few microseconds, less than a
    # thread-pool hop; the single connection is only ever used from the loop's thread.
    row = (
        _db["conn"]
        .execute(
            "SELECT id, title, score, done, created_at FROM items WHERE id = ?",
            (request.path_params["id"],),
        )
        .fetchone()
    )
    if row is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    keys = ("id", "title", "score", "done", "created_at")
    return JSONResponse({**dict(zip(keys, row, strict=True)), "done": bool(row[3])})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    _db["conn"] = sqlite3.connect(os.environ.get("CEILING_DB", "ceiling.db"))
    try:
        yield
    finally:
        _db.pop("conn").close()


app = Starlette(
    routes=[Route("/hello", hello), Route("/items/{id}", get_item)],
    lifespan=lifespan,
)
