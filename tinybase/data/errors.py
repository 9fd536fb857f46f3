"""Exceptions raised by ``tinybase.data``.

The tree::

    DataError
    ├── NotFoundError       (also a KeyError)
    ├── InvalidDataError    (also a ValueError)
    ├── SchemaChangeError
    └── DatabaseBusyError

Database driver errors (``IntegrityError`` and friends) propagate as SQLAlchemy exceptions;
the transaction they happened in is always rolled back first.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DatabaseBusyError",
    "InvalidDataError",
    "NotFoundError",
    "SchemaChangeError",
]


class DataError(Exception):
    """Base class of every error raised by ``tinybase.data``."""


class NotFoundError(DataError, KeyError):
    """No row matches the primary key (and the table's ``xtra`` filter), or no such table."""

    def __str__(self) -> str:
        # KeyError's __str__ shows the repr of its argument; a message reads better.
        return str(self.args[0]) if self.args else ""


class InvalidDataError(DataError, ValueError):
    """A value, column name or argument was rejected before reaching the database."""


class SchemaChangeError(DataError):
    """A schema change cannot be applied without losing or corrupting data.

    Attributes:
        table: the table being changed.
        column: the column whose values cannot be converted, if one is to blame.
    """

    def __init__(self, message: str, *, table: str, column: str | None = None) -> None:
        super().__init__(message)
        self.table = table
        self.column = column


class DatabaseBusyError(DataError):
    """A SQLite write could not start: another process held the write lock too long.

    Nothing was written; the write may be retried. Attributes:
        waited: how long the write waited for the lock, in seconds.
    """

    def __init__(self, waited: float) -> None:
        super().__init__(f"the database stayed locked for {waited:g} s")
        self.waited = waited
