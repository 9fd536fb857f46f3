"""Alembic environment: always driven by :mod:`tinybase.db.migrate`, never by ``alembic.ini``.

The caller opens the connection (inside its own transaction, under a migration lock) and
passes it as ``config.attributes["connection"]``; this module only configures the context.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import tinybase.db.models  # noqa: F401  (registers the system tables on SQLModel.metadata)
from tinybase.db.migrate import VERSION_TABLE, include_object


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("TinyBase migrations run through tinybase.db.migrate only")
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("TinyBase migrations do not support offline (SQL script) mode")
run_migrations_online()
