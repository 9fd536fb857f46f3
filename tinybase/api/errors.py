"""The one place where errors become HTTP responses: ``{"detail": ...}`` with a status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tinybase.api.middleware import request_id
from tinybase.api.responses import JSONResponse
from tinybase.data import DatabaseBusyError
from tinybase.errors import TinyBaseError
from tinybase.functions.runner import FunctionCallFailed

__all__ = ["install_error_handlers"]

logger = logging.getLogger("tinybase.api")


async def _tinybase_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TinyBaseError)
    if exc.status_code == 503:
        # A dependency is down (the file store): not a bug, and a retry may pass. The cause
        # was logged where it happened; the detail is the error's safe message.
        headers = {"Retry-After": "5", **(exc.headers or {})}  # the error's own wait first
        return JSONResponse({"detail": exc.detail}, status_code=503, headers=headers)
    if exc.status_code >= 500:
        logger.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _function_failed(request: Request, exc: Exception) -> Response:
    # A function that ran and raised: its caller learns the call id (admins find the
    # exception and traceback in the call record), never the traceback itself.
    assert isinstance(exc, FunctionCallFailed)
    return JSONResponse(exc.public(), status_code=exc.status_code)


async def _database_busy(request: Request, exc: Exception) -> Response:
    # Another process held SQLite's write lock past the wait: nothing was written, and a
    # retry a moment later will most likely pass. A 503 says so; a 500 would claim a bug.
    assert isinstance(exc, DatabaseBusyError)
    logger.warning("write lock busy on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "The database is busy; retry shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The cause goes to the log; the client gets no traceback and no internals.
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    # This handler runs outside RequestIdMiddleware: add the id the client can quote.
    return JSONResponse(
        {"detail": "Internal server error"},
        status_code=500,
        headers={"X-Request-ID": request_id.get()},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as ``{"detail": ...}``."""
    app.add_exception_handler(TinyBaseError, _tinybase_error)
    app.add_exception_handler(FunctionCallFailed, _function_failed)
    app.add_exception_handler(DatabaseBusyError, _database_busy)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
