"""Instance secrets in the ``_secret`` table, shared by every process of one instance."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tinybase.db.models import Secret
from tinybase.utils import utcnow

__all__ = ["delete_secret", "insert_secret_if_absent", "read_secret", "replace_secret"]

_secret = Secret.__table__


def read_secret(conn: sa.Connection, name: str) -> str | None:
    """The value of secret ``name``, or None if it does not exist."""
    return conn.execute(sa.select(_secret.c.value).where(_secret.c.name == name)).scalar()


def insert_secret_if_absent(conn: sa.Connection, name: str, value: str) -> str:
    """Store ``value`` under ``name`` unless a value exists; return the stored value.

    ``INSERT ... ON CONFLICT DO NOTHING`` followed by a read makes concurrent processes
    agree on one value: whoever inserts first wins, everyone reads the winner back.
    """
    conn.execute(_insert(conn, name, value).on_conflict_do_nothing(index_elements=["name"]))
    stored = read_secret(conn, name)
    assert stored is not None  # inserted above or by a concurrent process
    return stored


def replace_secret(conn: sa.Connection, name: str, value: str) -> None:
    """Store ``value`` under ``name``, replacing any previous value.

    One upsert, so processes replacing the same secret at once (several servers starting
    on one PostgreSQL) never collide on the key: the last one wins.
    """
    statement = _insert(conn, name, value)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"value": statement.excluded.value, "created_at": statement.excluded.created_at},
        )
    )


def delete_secret(conn: sa.Connection, name: str) -> None:
    """Remove secret ``name`` (no error if it does not exist)."""
    conn.execute(sa.delete(_secret).where(_secret.c.name == name))


def _insert(conn: sa.Connection, name: str, value: str) -> Any:
    """The dialect's INSERT of one secret (it has ON CONFLICT on both backends)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(_secret).values(name=name, value=value, created_at=utcnow())
