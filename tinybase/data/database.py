"""The :class:`Database`: transactions, the SQLite writer lock, tables by name.

Every service of TinyBase talks to the database through two context managers:

- :meth:`Database.write` opens one write transaction (committed on exit, rolled back on any
  exception). On SQLite, writes are serialized by a process-wide lock keyed by the database
  file and begin with ``BEGIN IMMEDIATE``, so concurrent writers wait their turn instead of
  failing with "database is locked". Across processes (``--workers N``) the ``BEGIN
  IMMEDIATE`` is retried until ``write_wait_seconds`` have passed, then
  :class:`~tinybase.data.errors.DatabaseBusyError` is raised. A nested ``write()`` in the
  same thread joins the outer transaction through a SAVEPOINT.
- :meth:`Database.read` gives a connection for reads. Inside ``write()`` it is the write
  connection, so reads see the uncommitted writes of the same thread.
- :meth:`Database.after_commit` queues work for after the outermost commit (change events,
  cleanups): dropped with the savepoint or transaction that rolls back.

The MiniDataAPI :class:`~tinybase.data.Table` skips SQLAlchemy's bookkeeping on its hot paths
and works on raw DBAPI connections through a few lower-level members: :meth:`reader_connection`
and :meth:`dbapi_read` for reads; :meth:`dbapi_writer`, :attr:`in_transaction`,
:attr:`has_writer_lock` and :attr:`is_memory` for SQLite write transactions of its own.
"""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from tinybase.data.create import create_table
from tinybase.data.engine import IMMEDIATE_OPTION, create_engine, is_memory, sqlite_path
from tinybase.data.errors import DatabaseBusyError, DataError, NotFoundError
from tinybase.data.placeholders import to_text_clause
from tinybase.data.table import Table
from tinybase.data.tableinfo import TableInfo, reflect_table

__all__ = ["WRITE_WAIT_SECONDS", "Database", "database"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

#: How long a SQLite write waits for another process to release the write lock.
WRITE_WAIT_SECONDS = 30.0
# One BEGIN IMMEDIATE waits at most this long in SQLite's busy handler before it is retried.
_BEGIN_ATTEMPT_SECONDS = 1.0

_file_locks: dict[str, threading.RLock] = {}
_engine_locks: weakref.WeakKeyDictionary[sa.Engine, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _writer_lock(engine: sa.Engine) -> threading.RLock | None:
    """The process-wide writer lock of a SQLite database, None on other databases."""
    if engine.dialect.name != "sqlite":
        return None
    with _locks_guard:
        path = sqlite_path(engine)
        if path is not None:
            return _file_locks.setdefault(path, threading.RLock())
        return _engine_locks.setdefault(engine, threading.RLock())


class Database:
    """A database: transactions, raw queries and MiniDataAPI tables.

    Args:
        engine: a SQLAlchemy engine, ideally made by :func:`tinybase.data.create_engine`
            (which configures SQLite for safe concurrent use).
        write_wait_seconds: SQLite: how long :meth:`write` waits for the write lock that
            another process holds before it raises ``DatabaseBusyError``.

    One ``Database`` may be shared by any number of threads.
    """

    def __init__(
        self, engine: sa.Engine, *, write_wait_seconds: float = WRITE_WAIT_SECONDS
    ) -> None:
        self.engine = engine
        self.write_wait_seconds = write_wait_seconds
        self.dialect: str = engine.dialect.name
        self._lock = _writer_lock(engine)
        self._memory = is_memory(engine)
        self._local = threading.local()
        self._tables: dict[str, TableInfo] = {}
        self._classes: dict[str, type] = {}
        self._tables_guard = threading.Lock()
        self._writer: sa.Connection | None = None
        self._dbapi_writer = None if self._lock is None else _DbapiWriter(self, self._lock)
        # SAVEPOINTs of SQLAlchemy's own (begin_nested) inside write(): a rolled back one
        # drops its after-commit callbacks, as a nested write() does. Weak: the listeners
        # live as long as the engine, which may outlive this Database.
        this = weakref.ref(self)
        for event in ("savepoint", "rollback_savepoint", "release_savepoint"):
            sa.event.listen(engine, event, functools.partial(_forward, this, f"_on_{event}"))

    def __repr__(self) -> str:
        return f"<Database {self.engine.url.render_as_string(hide_password=True)}>"

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """Run a block in one write transaction.

        Yields:
            The connection of the transaction. The transaction commits when the block ends
            and rolls back if it raises. Nested calls in the same thread join the outer
            transaction through a SAVEPOINT (an error inside rolls back the nested part only).
        """
        current: sa.Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            with self._savepoint(current):
                yield current
            return
        committed: list[Callable[[], object]] = []
        self._local.pending = committed
        try:
            if self._lock is None:
                with self.engine.connect() as connection:
                    yield from self._run_transaction(connection)
            else:
                with self._lock:
                    yield from self._run_transaction(self._writer_connection())
        finally:
            self._local.pending = None
        # Committed, and the writer lock released: a callback may write again.
        draining: list[Callable[[], object]] | None = getattr(self._local, "draining", None)
        if draining is not None:
            # Written by a callback of an earlier commit: its callbacks go after the rest of
            # that commit's, in commit order (run now, they would come in between).
            draining.extend(committed)
            return
        self._local.draining = committed
        try:
            _run_callbacks(committed)
        finally:
            self._local.draining = None

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the outermost :meth:`write` of this thread has committed.

        Callbacks run in the order they were registered, after COMMIT and outside the
        transaction (on SQLite, after the writer lock is released). A callback registered
        inside a nested ``write()`` that rolls back is dropped with it, and all of them are
        dropped when the transaction rolls back. A callback that raises is logged; the
        others still run (the data is committed either way). A callback that writes again
        queues the callbacks of its own write after those still waiting, so every callback
        runs in commit order (after its own write returned, not inside it).

        Raises:
            DataError: the current thread is not inside :meth:`write`.
        """
        pending: list[Callable[[], object]] | None = getattr(self._local, "pending", None)
        if pending is None:
            raise DataError("after_commit() needs a write transaction (db.write())")
        pending.append(callback)

    def _writer_connection(self) -> sa.Connection:
        """SQLite: the one connection this Database writes through (callers hold the lock)."""
        writer = self._writer
        if writer is None or writer.closed or writer.invalidated:
            writer = self.engine.connect()
            writer.execution_options(**{IMMEDIATE_OPTION: True})
            attempt = min(self.write_wait_seconds, _BEGIN_ATTEMPT_SECONDS)
            driver = writer.connection.driver_connection
            driver.execute(f"PRAGMA busy_timeout={max(int(attempt * 1000), 1)}")
            self._writer = writer
        return writer

    @contextmanager
    def _savepoint(self, connection: sa.Connection) -> Iterator[None]:
        """A SAVEPOINT around a nested ``write()``, issued on the driver connection.

        Why not ``connection.begin_nested()``: SQLAlchemy compiles and runs its SAVEPOINT
        and RELEASE through the whole execution path, uncached, which was about a quarter of
        the cost of a record write once writes are group-committed (every write in a group
        is a nested ``write()``). SQLAlchemy's own nested transactions (``begin_nested``)
        still work inside and around these: savepoints nest by name on both databases.
        """
        depth = getattr(self._local, "savepoints", 0) + 1
        self._local.savepoints = depth
        name = f"tb_savepoint_{depth}"
        driver = connection.connection.driver_connection
        pending: list[Callable[[], object]] = self._local.pending
        mark = len(pending)  # the callbacks registered from here on belong to this savepoint
        driver.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            del pending[mark:]  # its after-commit callbacks go with its changes
            driver.execute(f"ROLLBACK TO SAVEPOINT {name}")
            driver.execute(f"RELEASE SAVEPOINT {name}")
            raise
        else:
            driver.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._local.savepoints = depth - 1

    def _on_savepoint(self, connection: sa.Connection, name: str | None) -> None:
        """SQLAlchemy's ``begin_nested()`` in a :meth:`write` of this thread: remember where
        its after-commit callbacks start, to drop them if it rolls back."""
        if connection is not getattr(self._local, "connection", None):
            return
        if name is None:  # the event comes before SQLAlchemy names the savepoint
            name = f"sa_savepoint_{getattr(connection, '_Connection__savepoint_seq', 0) + 1}"
        marks: dict[str, int] | None = getattr(self._local, "marks", None)
        if marks is None:
            marks = self._local.marks = {}
        marks[name] = len(self._local.pending)

    def _on_rollback_savepoint(
        self, connection: sa.Connection, name: str, _context: object
    ) -> None:
        mark = self._forget_savepoint(connection, name)
        if mark is not None:
            del self._local.pending[mark:]

    def _on_release_savepoint(self, connection: sa.Connection, name: str, _context: object) -> None:
        self._forget_savepoint(connection, name)

    def _forget_savepoint(self, connection: sa.Connection, name: str) -> int | None:
        """Where the callbacks of savepoint ``name`` start (None: not one of this write).

        A savepoint ends its inner ones too: they are forgotten with it."""
        marks: dict[str, int] | None = getattr(self._local, "marks", None)
        if not marks or connection is not self._local.connection or name not in marks:
            return None
        names = list(marks)  # in the order the savepoints began: the inner ones come later
        mark = marks[name]
        for ended in names[names.index(name) :]:
            del marks[ended]
        return mark

    def _run_transaction(self, connection: sa.Connection) -> Iterator[sa.Connection]:
        self._local.connection = connection
        try:
            with self._begin(connection):
                yield connection
        finally:
            self._local.connection = None
            self._local.marks = None

    def _begin(self, connection: sa.Connection) -> sa.RootTransaction:
        """``connection.begin()``; on SQLite, retried while another process holds the lock.

        Why retry rather than one long busy_timeout: SQLite's busy handler sleeps on a fixed
        schedule, and a process that commits and begins again at once can win every time
        (it did with ``--workers 2`` and bulk writes); a random pause between attempts
        breaks that lockstep. A failed BEGIN leaves the connection outside a transaction.

        Raises:
            DatabaseBusyError: the lock was not free within ``write_wait_seconds``.
        """
        if self._lock is None:
            return connection.begin()
        return self._while_busy(connection.begin)

    def begin_immediate(self, raw: Any) -> None:
        """``BEGIN IMMEDIATE`` on the raw connection of :meth:`dbapi_writer`, retried while
        another process holds the lock, as :meth:`write` retries its BEGIN.

        Raises:
            DatabaseBusyError: the lock was not free within ``write_wait_seconds``.
        """
        self._while_busy(lambda: raw.execute("BEGIN IMMEDIATE"))

    def _while_busy(self, begin: Callable[[], _T]) -> _T:
        deadline = time.monotonic() + self.write_wait_seconds
        while True:
            try:
                return begin()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseBusyError(self.write_wait_seconds) from exc
                time.sleep(random.uniform(0.005, 0.05))

    transaction = write

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """Give a connection for reads.

        Yields:
            Inside :meth:`write` (same thread), the write connection; otherwise a pooled
            connection whose transaction is rolled back at the end of the block. SQLite
            readers do not take the writer lock (WAL lets them run alongside the writer),
            except on ``:memory:`` where all access is serialized on one connection.
        """
        current: sa.Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            yield current
        elif self._memory:
            with self.write() as connection:
                yield connection
        else:
            with self.engine.connect() as connection:
                yield connection

    def reader_connection(self) -> Any | None:
        """The raw DBAPI connection for a read on the fast path, or None.

        Inside :meth:`write`, the write connection. On a SQLite file, a connection kept for
        the current thread (autocommit mode: each SELECT is its own snapshot). Otherwise None:
        use :meth:`dbapi_read`.
        """
        local = self._local.__dict__
        current = local.get("connection")
        if current is not None:
            return current.connection.driver_connection
        if self._lock is None or self._memory:
            return None
        reader = local.get("reader")
        if reader is None:
            # Detached from the pool: it belongs to this thread and closes with it.
            proxied = self.engine.raw_connection()
            reader = local["reader"] = proxied.driver_connection
            proxied.detach()
        return reader

    @contextmanager
    def dbapi_read(self) -> Iterator[Any]:
        """Give a raw DBAPI connection for reads (the fast path of :class:`Table`)."""
        fast = self.reader_connection()
        if fast is not None:
            yield fast
            return
        if self._memory:
            with self.write() as connection:
                yield connection.connection.driver_connection
            return
        raw = self.engine.raw_connection()
        try:
            yield raw.driver_connection
        finally:
            raw.close()

    @property
    def in_transaction(self) -> bool:
        """True when the current thread is inside :meth:`write`."""
        return getattr(self._local, "connection", None) is not None

    @property
    def is_memory(self) -> bool:
        """True for an in-memory SQLite database: one connection serves all reads and writes."""
        return self._memory

    @property
    def has_writer_lock(self) -> bool:
        """True on SQLite, where a process-wide lock serializes the writers (see
        :meth:`dbapi_writer`); False on PostgreSQL."""
        return self._lock is not None

    def dbapi_writer(self) -> AbstractContextManager[Any]:
        """Hold the SQLite writer lock and give the raw DBAPI connection that :meth:`write`
        writes through (the fast write path of :class:`Table`).

        ``with db.dbapi_writer() as raw:`` blocks until no other thread writes (the same
        process-wide lock as :meth:`write`; re-entrant in one thread) and releases it when the
        block ends. Outside :meth:`write` (check :attr:`in_transaction`) the connection is in
        autocommit mode: the caller runs its own transaction (``BEGIN IMMEDIATE``, ``COMMIT``,
        and a rollback on any error), and a lone SELECT is its own snapshot. Inside
        :meth:`write` it is that transaction's connection: leave the transaction to ``write``.

        The context manager returned is the same for every call: it may be kept and reused,
        from any thread (as :class:`Table` does on its hot path).

        Raises:
            DataError: the database has no writer lock (PostgreSQL).
        """
        writer = self._dbapi_writer
        if writer is None:
            raise DataError(f"{self.dialect} databases have no writer lock")
        return writer

    # -- raw SQL ------------------------------------------------------------------------

    def q(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict]:
        """Run one SQL statement and return its rows as dicts.

        Args:
            sql: the statement. Use ``?`` placeholders with a sequence of ``params``, or
                ``:name`` placeholders with a dict.
            params: the bound values.

        Returns:
            The rows (an empty list for statements that return none). ``SELECT`` statements
            run on a read connection; anything else runs in a write transaction.
        """
        clause = to_text_clause(sql, params)
        context = self.read if _is_select(sql) else self.write
        with context() as connection:
            result = connection.execute(clause)
            return [dict(row) for row in result.mappings()] if result.returns_rows else []

    # -- tables -------------------------------------------------------------------------

    def create(
        self,
        cls: type,
        pk: str | Sequence[str] = "id",
        transform: bool = False,
        name: str | None = None,
    ) -> Table:
        """Create the table for ``cls`` (see :func:`tinybase.data.create.create_table`)."""
        return create_table(self, cls, pk=pk, transform=transform, name=name)

    @property
    def t(self) -> Tables:
        """Existing tables by name: ``db.t.user``, ``db.t['user']``, ``'user' in db.t``."""
        return Tables(self)

    def table_names(self) -> list[str]:
        """Names of the existing tables."""
        with self.read() as connection:
            return sorted(sa.inspect(connection).get_table_names())

    def table_info(self, name: str) -> TableInfo:
        """The cached description of table ``name``; raises NotFoundError if it is missing."""
        info = self._tables.get(name)
        if info is None:
            with self.read() as connection:
                table = reflect_table(connection, name)
            if table is None:
                raise NotFoundError(f"no table named {name!r}")
            info = TableInfo(table, self.engine.dialect)
            with self._tables_guard:
                self._tables[name] = info
        return info

    def forget(self, name: str | None = None) -> None:
        """Drop cached table descriptions (all, or one) after a schema change made elsewhere."""
        with self._tables_guard:
            if name is None:
                self._tables.clear()
            else:
                self._tables.pop(name, None)

    def register_class(self, name: str, cls: type) -> None:
        """Make ``cls`` the row class of table ``name`` for tables got through ``db.t``."""
        self._classes[name] = cls

    def row_class(self, name: str) -> type | None:
        """The class registered for table ``name`` by :meth:`create`, if any."""
        return self._classes.get(name)


class _DbapiWriter:
    """The context manager of :meth:`Database.dbapi_writer`: one per database, stateless.

    A class rather than ``@contextmanager``: this is on every single-row write of
    :class:`Table`, and a generator-based context manager costs a few times as much.
    """

    __slots__ = ("_db", "_lock")

    def __init__(self, db: Database, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> Any:
        self._lock.acquire()
        try:
            return self._db._writer_connection().connection.driver_connection
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


class Tables:
    """Accessor behind ``db.t``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __getitem__(self, name: str) -> Table:
        return Table(self._db, name, self._db.row_class(name))

    def __getattr__(self, name: str) -> Table:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except NotFoundError:
            raise AttributeError(f"no table named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._db.table_names()

    def __iter__(self) -> Iterator[Table]:
        return (self[name] for name in self._db.table_names())

    def __repr__(self) -> str:
        return f"<Tables {', '.join(self._db.table_names())}>"


def _forward(database: weakref.ref[Database], method: str, *args: Any) -> None:
    """An engine event for the :class:`Database` still using the engine (if any)."""
    target = database()
    if target is not None:
        getattr(target, method)(*args)


def _run_callbacks(callbacks: list[Callable[[], object]]) -> None:
    # By index: callbacks of writes made by these callbacks are appended while it runs.
    position = 0
    while position < len(callbacks):
        callback = callbacks[position]
        position += 1
        try:
            callback()
        except Exception:
            logger.exception("an after-commit callback failed (the transaction is committed)")


def _is_select(sql: str) -> bool:
    # WITH may wrap an INSERT/UPDATE on PostgreSQL: it runs as a write, to be committed.
    words = sql.lstrip().split(None, 1)
    return bool(words) and words[0].lower() in ("select", "values")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return str(exc).startswith(("database is locked", "database is busy"))


def database(url: str, *, write_wait_seconds: float = WRITE_WAIT_SECONDS) -> Database:
    """Open a database: ``':memory:'``, a file path, ``sqlite:///...`` or ``postgresql://...``.

    ``write_wait_seconds``: see :class:`Database`.
    """
    return Database(create_engine(url), write_wait_seconds=write_wait_seconds)
