"""Database: engines, transactions, the SQLite writer lock, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tinybase.data import Database, DatabaseBusyError, InvalidDataError, create_engine, database


def test_create_engine_sqlite_pragmas_and_regexp(tmp_path: Path) -> None:
    engine = create_engine(str(tmp_path / "nested" / "dir" / "app.db"))
    assert (tmp_path / "nested" / "dir").is_dir()
    with engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 5000
        assert pragma("SELECT 'abc123' REGEXP ?", ("[0-9]+$",)).scalar() == 1
        assert pragma("SELECT 'abc' REGEXP ?", ("^[0-9]+$",)).scalar() == 0
        assert pragma("SELECT NULL REGEXP 'a'").scalar() is None
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        (":memory:", "pysqlite"),
        ("sqlite:///{tmp}/a.db", "pysqlite"),
        ("postgresql://u@localhost/db", "psycopg"),
        ("postgresql+psycopg://u@localhost/db", "psycopg"),
    ],
)
def test_create_engine_urls(url: str, driver: str, tmp_path: Path) -> None:
    engine = create_engine(url.format(tmp=tmp_path))
    assert engine.dialect.driver == driver
    engine.dispose()


def test_memory_database_is_shared_across_threads() -> None:
    db = database(":memory:")
    db.q("CREATE TABLE t (x INTEGER)")
    thread = threading.Thread(target=lambda: db.q("INSERT INTO t VALUES (1)"))
    thread.start()
    thread.join()
    assert db.q("SELECT x FROM t") == [{"x": 1}]


def test_write_commits_and_rolls_back(raw_db: Database) -> None:
    raw_db.q("CREATE TABLE t (x INTEGER)")
    with raw_db.write() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError), raw_db.write() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (2)")
        raise RuntimeError("boom")
    assert raw_db.q("SELECT x FROM t") == [{"x": 1}]


def test_transaction_is_write_and_read_inside_sees_uncommitted(raw_db: Database) -> None:
    raw_db.q("CREATE TABLE t (x INTEGER)")
    with raw_db.transaction() as outer:
        outer.exec_driver_sql("INSERT INTO t VALUES (1)")
        with raw_db.read() as reader:
            assert reader is outer
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
        assert raw_db.in_transaction
    assert not raw_db.in_transaction


def test_nested_write_joins_and_an_inner_failure_keeps_the_outer(raw_db: Database) -> None:
    raw_db.q("CREATE TABLE t (x INTEGER UNIQUE)")
    with raw_db.write() as outer:
        outer.exec_driver_sql("INSERT INTO t VALUES (1)")
        with raw_db.write() as inner:
            assert inner is outer
            inner.exec_driver_sql("INSERT INTO t VALUES (2)")
        with pytest.raises(sa.exc.IntegrityError), raw_db.write() as inner:
            inner.exec_driver_sql("INSERT INTO t VALUES (1)")
        outer.exec_driver_sql("INSERT INTO t VALUES (3)")
    assert [row["x"] for row in raw_db.q("SELECT x FROM t ORDER BY x")] == [1, 2, 3]


def test_sqlite_write_begins_immediate(sqlite_url: str) -> None:
    db = database(sqlite_url)
    statements: list[str] = []
    sa.event.listen(
        db.engine, "connect", lambda conn, _: conn.set_trace_callback(statements.append)
    )
    with db.write() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    assert "BEGIN IMMEDIATE" in statements
    assert statements.index("BEGIN IMMEDIATE") < statements.index("CREATE TABLE t (x INTEGER)")


def test_two_databases_on_one_file_share_the_writer_lock(sqlite_url: str) -> None:
    first, second = database(sqlite_url), database(sqlite_url)
    assert first._lock is second._lock
    first.q("CREATE TABLE t (x INTEGER)")
    errors: list[BaseException] = []

    def write(db: Database, start: int) -> None:
        try:
            for i in range(start, start + 50):
                with db.write() as connection:
                    connection.exec_driver_sql(f"INSERT INTO t VALUES ({i})")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(db, n * 100))
        for n, db in enumerate([first, second, first, second])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert first.q("SELECT count(*) AS n FROM t") == [{"n": 200}]


def test_twenty_threads_write_through_tables_while_others_read(sqlite_url: str) -> None:
    db = database(sqlite_url)

    class Event:
        id: int
        thread: int
        n: int

    events = db.create(Event)
    errors: list[BaseException] = []
    stop = threading.Event()
    seen: dict[int, list[int]] = {}

    def writer(number: int) -> None:
        try:
            for n in range(50):
                events.insert(thread=number, n=n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader(number: int) -> None:
        counts = seen.setdefault(number, [])
        try:
            while not stop.is_set():
                counts.append(events.count)
                events(limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert events.count == 1000
    got = {(e.thread, e.n) for e in events()}
    assert got == {(t, n) for t in range(20) for n in range(50)}
    for counts in seen.values():  # each reader saw a growing table
        assert counts and counts == sorted(counts)


def test_q_binds_question_marks_and_named_params(raw_db: Database) -> None:
    raw_db.q("CREATE TABLE t (x INTEGER, s TEXT)")
    raw_db.q("INSERT INTO t VALUES (?, ?)", [1, "a:b '?'"])
    assert raw_db.q("SELECT s FROM t WHERE x = ? AND s <> '?'", [1]) == [{"s": "a:b '?'"}]
    assert raw_db.q("SELECT x FROM t WHERE s = :s", {"s": "a:b '?'"}) == [{"x": 1}]
    with pytest.raises(InvalidDataError):
        raw_db.q("SELECT x FROM t WHERE x = ?", [1, 2])


def test_driver_errors_roll_back_and_the_database_stays_usable(raw_db: Database) -> None:
    raw_db.q("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    raw_db.q("INSERT INTO t VALUES (1)")
    for _ in range(3):
        with pytest.raises(sa.exc.IntegrityError):
            raw_db.q("INSERT INTO t VALUES (1)")
    with pytest.raises(sa.exc.DBAPIError):
        raw_db.q("SELECT * FROM no_such_table")
    raw_db.q("INSERT INTO t VALUES (2)")
    assert raw_db.q("SELECT x FROM t ORDER BY x") == [{"x": 1}, {"x": 2}]


def test_tables_accessor(raw_db: Database) -> None:
    class Thing:
        id: int
        label: str

    raw_db.create(Thing)
    assert "thing" in raw_db.t
    assert "nothing" not in raw_db.t
    assert repr(raw_db.t["thing"]) == "<Table thing (id, label)>"
    with pytest.raises(AttributeError):
        _ = raw_db.t.nothing
    assert [t.name for t in raw_db.t] == ["thing"]


def test_database_wraps_an_existing_engine(tmp_path: Path) -> None:
    db = Database(create_engine(str(tmp_path / "x.db")))
    assert db.dialect == "sqlite"
    assert db.q("SELECT 1 AS one") == [{"one": 1}]


def test_table_writes_wait_for_another_process_and_then_give_up_named(tmp_path: Path) -> None:
    """The MiniDataAPI's own transactions retry BEGIN like ``write()``: a lock released
    within the wait lets the insert through; one held past it is DatabaseBusyError."""
    path = tmp_path / "busy.db"
    db = database(f"sqlite:///{path}", write_wait_seconds=0.5)
    try:
        db.q("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)")
        notes = db.t.notes
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.2, lambda: other.execute("ROLLBACK"))
        release.start()
        notes.insert(title="after the other writer")
        release.join()
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseBusyError):
            notes.insert(title="never")
        other.execute("ROLLBACK")
        other.close()
        assert db.q("SELECT title FROM notes") == [{"title": "after the other writer"}]
    finally:
        db.engine.dispose()
