"""Database errors raised by writes, mapped to TinyBase's errors with safe messages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tinybase.data.engine import regexp_timed_out
from tinybase.errors import BadRequestError, ConflictError, ValidationError

__all__ = ["map_database_errors"]

logger = logging.getLogger(__name__)


@contextmanager
def map_database_errors(table: str) -> Iterator[None]:
    """Turn constraint violations into 409/422 and bad values into 400/422.

    The driver's message goes to the log; the client sees which constraint kind failed and,
    where the database names it, the column (a column of the API's own table).
    """
    try:
        yield
    except sa.exc.IntegrityError as exc:
        logger.info("integrity error on %s: %s", table, exc.orig)
        raise _integrity(exc) from exc
    except sa.exc.DataError as exc:
        logger.info("data error on %s: %s", table, exc.orig)
        raise BadRequestError("a value does not fit its column") from exc
    except sa.exc.OperationalError as exc:
        # SQLite: REGEXP flagged its timeout; PostgreSQL: the statement_timeout that lists
        # filtering with a regular expression set (query_canceled).
        if regexp_timed_out() or getattr(exc.orig, "sqlstate", None) == _QUERY_CANCELED:
            logger.info("expensive query on %s stopped: %s", table, exc.orig)
            raise BadRequestError("regular expression too expensive") from exc
        raise


_QUERY_CANCELED = "57014"


def _integrity(exc: sa.exc.IntegrityError) -> Exception:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    message = str(orig)
    column = _column(orig, message)
    if state == "23505" or message.startswith("UNIQUE constraint failed"):
        return ConflictError("a record with the same unique value already exists")
    if state == "23502" or message.startswith("NOT NULL constraint failed"):
        return ValidationError.for_field(column or "body", "field required", kind="missing")
    if state == "23503" or message.startswith("FOREIGN KEY constraint failed"):
        return ValidationError.for_field(column or "body", "references a missing record")
    if state == "23514" or message.startswith("CHECK constraint failed"):
        return ValidationError.for_field(column or "body", "violates a check constraint")
    return ConflictError("the record conflicts with existing data")


def _column(orig: object, message: str) -> str | None:
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "column_name", None):
        return diag.column_name
    if message.startswith("NOT NULL constraint failed:"):
        return message.rsplit(".", 1)[-1].strip()
    return None
