"""The shipped Alembic migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tinybase.data import Database, database
from tinybase.db import migrate
from tinybase.db.models import Record

SYSTEM_TABLES = {
    "_user",
    "_collection",
    "_function_call",
    "_function_version",
    "_function_schedule",
    "_session",
    "_password_reset",
    "_setting",
    "_secret",
    "_record_api",
    "_schedule_run",
    "_realtime_event",
}


def inspect(db: Database) -> sa.Inspector:
    return sa.inspect(db.engine)


def test_upgrade_creates_every_system_table(raw_db: Database) -> None:
    migrate.upgrade(raw_db)
    tables = set(inspect(raw_db).get_table_names())
    assert tables == SYSTEM_TABLES | {migrate.VERSION_TABLE}
    model_tables = {t.name for t in SQLModel.metadata.sorted_tables if not t.info.get("is_view")}
    assert model_tables == SYSTEM_TABLES


def test_upgrade_creates_the_indexes_and_foreign_keys_of_the_models(raw_db: Database) -> None:
    migrate.upgrade(raw_db)
    inspector = inspect(raw_db)
    for table in SQLModel.metadata.sorted_tables:
        if table.info.get("is_view"):
            continue
        expected = {(index.name, index.unique) for index in table.indexes}
        found = {
            (index["name"], bool(index["unique"])) for index in inspector.get_indexes(table.name)
        }
        assert expected <= found, table.name
        expected_fks = {
            (fk.parent.name, fk.column.table.name, fk.ondelete) for fk in table.foreign_keys
        }
        found_fks = {
            (fk["constrained_columns"][0], fk["referred_table"], fk["options"].get("ondelete"))
            for fk in inspector.get_foreign_keys(table.name)
        }
        assert found_fks == expected_fks, table.name


def test_migrated_schema_matches_the_models(raw_db: Database) -> None:
    migrate.upgrade(raw_db)
    with raw_db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": migrate.include_object, "compare_type": True},
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_record_view_is_empty_with_the_record_columns(raw_db: Database) -> None:
    migrate.upgrade(raw_db)
    assert "_record" in inspect(raw_db).get_view_names()
    with raw_db.read() as connection:
        result = connection.execute(sa.text("SELECT * FROM _record"))
        assert list(result.keys()) == [
            "id",
            "collection_id",
            "owner_id",
            "data",
            "created_at",
            "updated_at",
        ]
        assert result.all() == []
        assert connection.execute(sa.select(Record.__table__)).all() == []


def test_upgrade_is_idempotent_and_current_reports_head(raw_db: Database) -> None:
    assert migrate.current(raw_db) is None
    migrate.upgrade(raw_db)
    migrate.upgrade(raw_db)
    assert migrate.current(raw_db) == migrate.head()
    assert set(inspect(raw_db).get_table_names()) == SYSTEM_TABLES | {migrate.VERSION_TABLE}


def test_upgrade_accepts_an_engine(db_url: str) -> None:
    engine = database(db_url).engine
    try:
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_concurrent_upgrades_migrate_once(db_url: str) -> None:
    """Several processes starting at once: each has its own engine; none may fail."""
    databases = [database(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(databases))

    def start(db: Database) -> None:
        barrier.wait()
        try:
            migrate.upgrade(db)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert migrate.current(databases[0]) == migrate.head()
        with databases[0].read() as connection:
            version_rows = connection.execute(
                sa.text(f"SELECT count(*) FROM {migrate.VERSION_TABLE}")
            ).scalar_one()
        assert version_rows == 1
    finally:
        for db in databases:
            db.engine.dispose()


def test_history_lists_the_shipped_migrations_oldest_first() -> None:
    history = migrate.history()
    assert history[0].revision == "0001"
    assert history[0].down_revision is None
    assert "system tables" in history[0].message
    assert history[-1].revision == migrate.head()


def test_migration_scripts_are_inside_the_package() -> None:
    folder = migrate.MIGRATIONS_PATH
    assert folder.parent == Path(migrate.__file__).parent
    assert (folder / "env.py").is_file()
    assert (folder / "script.py.mako").is_file()
    assert list((folder / "versions").glob("0001_*.py"))
