"""Helpers shared by the record engine tests: the test schema's type, seeding rows, lists.

Plain code, not fixtures: test modules import it as ``from tests.records.helpers import ...``
(pytest discourages importing from conftest modules); the fixtures live in conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tinybase.auth.principal import SYSTEM, Principal
from tinybase.data.database import Database
from tinybase.records.config import Permission
from tinybase.records.engine import RecordEngine
from tinybase.records.filters import parse_filters
from tinybase.records.query import ListQuery
from tinybase.utils import utcnow, uuid7

__all__ = ["ALL", "MakeEngine", "Schema", "filter_query", "insert_items", "list_titles"]

ALL = frozenset(Permission)


@dataclass
class Schema:
    """The tables of a test database."""

    metadata: sa.MetaData
    user: sa.Table
    items: sa.Table
    groups: sa.Table
    notes: sa.Table
    tags: sa.Table


MakeEngine = Callable[..., RecordEngine]


def insert_items(db: Database, schema: Schema, rows: list[dict[str, Any]]) -> list[str]:
    """Insert rows straight into ``items`` (bypassing the engine); returns their ids."""
    ids = []
    with db.write() as connection:
        for row in rows:
            values = {"id": str(uuid7()), "created_at": utcnow(), "updated_at": utcnow(), **row}
            connection.execute(schema.items.insert().values(**values))
            ids.append(values["id"])
    return ids


def filter_query(*pairs: tuple[str, str], **options: Any) -> ListQuery:
    """A list query filtered by ``pairs`` (query-string pairs such as ``("score[gt]", "1")``)."""
    return ListQuery(filters=parse_filters(pairs), **options)


def list_titles(engine: RecordEngine, query: ListQuery, principal: Principal = SYSTEM) -> list[str]:
    """The ``title`` of each record ``engine`` lists for ``query``, as ``principal``."""
    return [record["title"] for record in engine.list(principal, query).records]
