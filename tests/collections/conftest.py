"""Fixtures for the collections tests, on ``migrated_db``: a catalog, records, a session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlmodel import Session

from tests.collections.helpers import insert_user
from tinybase.collections.apis import serve_collections
from tinybase.collections.catalog import CollectionCatalog
from tinybase.collections.collection_records import CollectionRecords
from tinybase.data import Database
from tinybase.records.registry import RecordApiRegistry


@pytest.fixture
def catalog(migrated_db: Database) -> CollectionCatalog:
    return CollectionCatalog(migrated_db)


@pytest.fixture
def registry(migrated_db: Database, catalog: CollectionCatalog) -> RecordApiRegistry:
    """Record APIs serving the catalog's collections, as the app wires them."""
    registry = RecordApiRegistry(migrated_db)
    serve_collections(catalog, registry)
    return registry


@pytest.fixture
def records(catalog: CollectionCatalog, registry: RecordApiRegistry) -> CollectionRecords:
    return CollectionRecords(catalog, registry)


@pytest.fixture
def session(migrated_db: Database) -> Iterator[Session]:
    with Session(migrated_db.engine) as value:
        yield value


@pytest.fixture
def add_user(migrated_db: Database) -> Callable[[], str]:
    """Insert a user row directly; return its id (text)."""

    def add() -> str:
        return str(insert_user(migrated_db))

    return add
