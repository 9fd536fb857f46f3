"""CompiledQuery / QueryCache: the raw-connection read path returns what SQLAlchemy would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tinybase.data import Database, database
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
def db(db_url: str) -> Iterator[Database]:
    db = database(db_url)
    with db.write() as connection:
        _METADATA.create_all(connection)
        connection.execute(
            sa.insert(_ITEMS), [{"id": n, "done": n % 2 == 0, "at": _AT} for n in range(1, 6)]
        )
    yield db
    db.engine.dispose()


def _through_sqlalchemy(db: Database, statement: sa.Select, params: dict) -> list[tuple]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(statement, params)]


def test_rows_are_converted_like_sqlalchemy_converts_them(db: Database) -> None:
    statement = sa.select(_ITEMS).where(_ITEMS.c.id >= sa.bindparam("low")).order_by(_ITEMS.c.id)
    query = CompiledQuery(statement, db.engine.dialect)
    with db.dbapi_read() as connection:
        rows = query.rows(connection, {"low": 4})
    assert rows == _through_sqlalchemy(db, statement, {"low": 4})
    assert rows == [(4, True, _AT), (5, False, _AT)]


def test_one_query_per_shape_key_each_request_binds_its_values(db: Database) -> None:
    cache = QueryCache(db.engine.dialect)
    built: list[int] = []

    def build() -> sa.Select:
        built.append(1)
        return sa.select(_ITEMS.c.id).where(_ITEMS.c.id <= sa.bindparam("n")).order_by(_ITEMS.c.id)

    first = cache.fixed(("first", 1), build)
    second = cache.fixed(("first", 1), build)
    assert first is second and built == [1]
    with db.dbapi_read() as connection:
        assert first.rows(connection, {"n": 2}) == [(1,), (2,)]
        assert second.rows(connection, {"n": 4}) == [(1,), (2,), (3,), (4,)]


def test_a_literal_value_cannot_be_shared_between_requests(db: Database) -> None:
    statement = sa.select(_ITEMS.c.id).where(_ITEMS.c.id > 2)
    with pytest.raises(ValueError, match="every value must be named"):
        CompiledQuery(statement, db.engine.dialect)


def test_driver_errors_are_wrapped_as_sqlalchemy_errors(db: Database) -> None:
    statement = sa.select(sa.text("*")).select_from(sa.table("no_such_table"))
    query = CompiledQuery(statement, db.engine.dialect)
    with pytest.raises(sa.exc.DBAPIError), db.dbapi_read() as connection:
        query.rows(connection, {})


def test_expanding_parameters_are_refused(db: Database) -> None:
    statement = sa.select(_ITEMS.c.id).where(_ITEMS.c.id.in_(sa.bindparam("ids", expanding=True)))
    with pytest.raises(ValueError):
        CompiledQuery(statement, db.engine.dialect)
