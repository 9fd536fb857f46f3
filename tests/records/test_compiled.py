"""CompiledQuery / QueryCache: the raw-connection read path returns what SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tinybase.data import Database
from tinybase.db.types import UTCDateTime
from tinybase.records.compiled import CompiledQuery, QueryCache

_METADATA = sa.MetaData()
_ITEMS = sa.Table(
    "items",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("done", sa.Boolean),
    sa.Column("at", UTCDateTime),
)
_AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def items_db(raw_db: Database) -> Database:
    """``raw_db`` with the table ``items`` and five rows, ids 1 to 5."""
    with raw_db.write() as connection:
        _METADATA.create_all(connection)
        connection.execute(
            sa.insert(_ITEMS), [{"id": n, "done": n % 2 == 0, "at": _AT} for n in range(1, 6)]
        )
    return raw_db


def _through_sqlalchemy(db: Database, statement: sa.Select, params: dict) -> list[tuple]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(statement, params)]


def test_rows_are_converted_like_sqlalchemy_converts_them(items_db: Database) -> None:
    statement = sa.select(_ITEMS).where(_ITEMS.c.id >= sa.bindparam("low")).order_by(_ITEMS.c.id)
    query = CompiledQuery(statement, items_db.engine.dialect)
    with items_db.dbapi_read() as connection:
        rows = query.rows(connection, {"low": 4})
    assert rows == _through_sqlalchemy(items_db, statement, {"low": 4})
    assert rows == [(4, True, _AT), (5, False, _AT)]


def test_one_query_per_shape_key_each_request_binds_its_values(items_db: Database) -> None:
    cache = QueryCache(items_db.engine.dialect)
    built: list[int] = []

    def build() -> sa.Select:
        built.append(1)
        return sa.select(_ITEMS.c.id).where(_ITEMS.c.id <= sa.bindparam("n")).order_by(_ITEMS.c.id)

    first = cache.fixed(("first", 1), build)
    second = cache.fixed(("first", 1), build)
    assert first is second and built == [1]
    with items_db.dbapi_read() as connection:
        assert first.rows(connection, {"n": 2}) == [(1,), (2,)]
        assert second.rows(connection, {"n": 4}) == [(1,), (2,), (3,), (4,)]


def test_a_literal_value_cannot_be_shared_between_requests(items_db: Database) -> None:
    statement = sa.select(_ITEMS.c.id).where(_ITEMS.c.id > 2)
    with pytest.raises(ValueError, match="every value must be named"):
        CompiledQuery(statement, items_db.engine.dialect)


def test_driver_errors_are_wrapped_as_sqlalchemy_errors(items_db: Database) -> None:
    statement = sa.select(sa.text("*")).select_from(sa.table("no_such_table"))
    query = CompiledQuery(statement, items_db.engine.dialect)
    with pytest.raises(sa.exc.DBAPIError), items_db.dbapi_read() as connection:
        query.rows(connection, {})


def test_expanding_parameters_are_refused(items_db: Database) -> None:
    statement = sa.select(_ITEMS.c.id).where(_ITEMS.c.id.in_(sa.bindparam("ids", expanding=True)))
    with pytest.raises(ValueError):
        CompiledQuery(statement, items_db.engine.dialect)
