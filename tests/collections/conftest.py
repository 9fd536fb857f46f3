"""Fixtures for the collections tests: a migrated database on both dialects, a session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tinybase.collections.apis import serve_collections
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.records import CollectionRecords
from tinybase.data import Database, database
from tinybase.db.migrate import upgrade
from tinybase.db.models import User
from tinybase.records.registry import RecordApiRegistry
from tinybase.utils import utcnow, uuid7


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A fresh, migrated database (SQLite file and PostgreSQL)."""
    instance = database(db_url)
    upgrade(instance)
    try:
        yield instance
    finally:
        instance.engine.dispose()


@pytest.fixture
def catalog(db: Database) -> CollectionCatalog:
    return CollectionCatalog(db)


@pytest.fixture
def registry(db: Database, catalog: CollectionCatalog) -> RecordApiRegistry:
    """Record APIs serving the catalog's collections, as the app wires them."""
    registry = RecordApiRegistry(db)
    serve_collections(catalog, registry)
    return registry


@pytest.fixture
def records(catalog: CollectionCatalog, registry: RecordApiRegistry) -> CollectionRecords:
    return CollectionRecords(catalog, registry)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with Session(db.engine) as value:
        yield value


@pytest.fixture
def add_user(db: Database) -> Callable[[], str]:
    """Insert a user row directly; return its id (text)."""

    def add() -> str:
        user_id = uuid7()
        now = utcnow()
        with db.write() as connection:
            connection.execute(
                sa.insert(User.__table__).values(
                    id=user_id,
                    email=f"{user_id}@example.com",
                    password_hash="x",
                    is_admin=False,
                    token_version=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return str(user_id)

    return add
