"""Console logging for the ``tinybase`` loggers, with the request id on every line."""

from __future__ import annotations

import copy
import logging
import sys
from typing import Any, TextIO

import uvicorn.config

from tinybase.api.middleware import RequestIdLogFilter

__all__ = ["LOG_FORMAT", "configure_logging", "uvicorn_log_config"]

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s"
# uvicorn's extra level below DEBUG; accepted in config, shown as DEBUG and below.
_TRACE = 5


def configure_logging(level: str) -> None:
    """Send ``tinybase.*`` log records to stderr at ``level`` (a config ``log_level``).

    Idempotent: calling it again (one app per worker, many apps in tests) only changes the
    level. Records still propagate to the root logger, so hosting setups (and pytest)
    that configure the root see them too.
    """
    logger = logging.getLogger("tinybase")
    logger.setLevel(_TRACE if level.lower() == "trace" else level.upper())
    if any(isinstance(handler, _ConsoleHandler) for handler in logger.handlers):
        return
    handler = _ConsoleHandler()
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with the request id on every access-log line.

    uvicorn writes the access line while the response starts, inside the request's context,
    so the id set by ``RequestIdMiddleware`` is there to print.
    """
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdLogFilter}}
    config["handlers"]["access"]["filters"] = ["request_id"]
    config["formatters"]["access"]["fmt"] = (
        '%(levelprefix)s [%(request_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
    )
    return config


class _ConsoleHandler(logging.StreamHandler):
    """TinyBase's own handler (a distinct class, so it is found and never added twice).

    It writes to whatever ``sys.stderr`` is at the time of each record, not the one at
    set-up: test runners and CLI runners swap (and close) it.
    """

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: see the class docstring."""
