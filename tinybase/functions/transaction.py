"""A function call's one write transaction, and the ``ctx.db`` session that shares it.

Why one transaction: the seed's promise is that a function's writes commit when it returns
and roll back when it raises, and that the record hooks of those writes fire after that
commit. So every write made through ``CollectionService(ctx.db)`` joins one
``Database.write()`` transaction, opened at the function's first write (a function that only
reads never holds the writer) and closed when the call ends: committed if it returned,
rolled back if it raised or ran past its time limit. Each write runs in a SAVEPOINT of its
own inside it, so a write that fails (a 422 the function catches) undoes only itself.
The records engine's changes are queued with ``Database.after_commit`` and so reach the
change stream (hooks, realtime) only after the outer commit, and never after a rollback.

The cost: on SQLite the transaction holds the single writer from the first write until the
function returns, and every other write of the process waits for it; keep writing functions
short (docs/functions.md). On PostgreSQL it is a transaction of its own, in parallel with
the rest.

``Database.write()`` is per thread. A sync function runs in one worker thread from start to
end, so its writes join the transaction directly. An async function runs on the event loop,
where other requests interleave: its transaction lives in a thread of its own, and its
writes are handed to that thread.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from tinybase.data import Database

__all__ = ["FunctionSession", "FunctionTransaction"]

_T = TypeVar("_T")


class _RollBack(Exception):
    """Thrown into the transaction's ``write()`` to roll it back."""


class FunctionTransaction:
    """The write transaction leased to one function call (see the module docstring).

    Args:
        db: the instance's database.
        timed_out: called to build the error a write raises after the call's time limit.
    """

    def __init__(self, db: Database, timed_out: Callable[[], Exception]) -> None:
        self._db = db
        self._timed_out = timed_out
        self._owner: int | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._write: AbstractContextManager[sa.Connection] | None = None
        self._expired = False
        self._guard = threading.Lock()
        self.connection: sa.Connection | None = None
        """The transaction's connection while it is open (``ctx.db`` reads through it)."""

    @property
    def expired(self) -> bool:
        """Whether the call ran past its time limit."""
        return self._expired

    @property
    def started(self) -> bool:
        """Whether the function wrote anything (the transaction is open)."""
        return self._write is not None

    def run_here(self) -> None:
        """Own the transaction from the current thread (a sync function's worker)."""
        self._owner = threading.get_ident()

    def write_blocking(self, fn: Callable[[], _T], *, rows: int = 1) -> _T:
        """Run ``fn`` (a write) inside the call's transaction, opening it if needed.

        The writer seam of :class:`~tinybase.collections.service.CollectionServices`.

        Raises:
            Exception: what ``fn`` raises (its SAVEPOINT is rolled back), or the time-limit
                error once the call has timed out.
        """
        if threading.get_ident() == self._owner:
            return self._run(fn)
        context = contextvars.copy_context()
        return self._worker().submit(context.run, self._run, fn).result()

    def expire(self) -> None:
        """The call timed out: later writes raise; the end rolls everything back."""
        self._expired = True

    def finish(self, *, commit: bool) -> None:
        """End the call's transaction: COMMIT (then the after-commit changes run) if
        ``commit`` and the call did not time out, else ROLLBACK. Nothing if it never began.

        Raises:
            Exception: the COMMIT failed (nothing was written).
        """
        try:
            if self._write is None:
                return
            if threading.get_ident() == self._owner or self._thread is None:
                self._end(commit)
            else:
                self._thread.submit(self._end, commit).result()
        finally:
            if self._thread is not None:
                self._thread.shutdown(wait=False)

    def _worker(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._guard:
            if self._thread is None:
                self._thread = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="tinybase-function-tx"
                )
            return self._thread

    def _run(self, fn: Callable[[], _T]) -> _T:
        if self._expired:
            raise self._timed_out()
        if self._write is None:
            self._write = self._db.write()
            self.connection = self._write.__enter__()
        with self._db.write():  # a SAVEPOINT: a failed write undoes only itself
            return fn()

    def _end(self, commit: bool) -> None:
        write, self._write = self._write, None
        self.connection = None
        assert write is not None
        if commit and not self._expired:
            write.__exit__(None, None, None)
        else:
            write.__exit__(_RollBack, _RollBack(), None)


class FunctionSession(Session):
    """``ctx.db``: a SQLModel session that reads through the call's transaction once the
    function has written, so ``select(Record)`` sees the function's own writes.

    Before the first write it reads on pooled connections, like any session. Afterwards it
    joins the transaction's connection in a SAVEPOINT of its own (SQLAlchemy's
    ``create_savepoint`` mode), so its ``commit()`` and ``rollback()`` never end the call's
    transaction: that is :meth:`FunctionTransaction.finish`'s job.
    """

    def __init__(self, engine: sa.Engine, transaction: FunctionTransaction) -> None:
        super().__init__(engine, join_transaction_mode="create_savepoint")
        self._function_transaction = transaction

    def end(self) -> None:
        """End the session's use when the call ends: close it if it holds a connection (or
        the call's SAVEPOINT). Closing a session that holds nothing costs tens of
        microseconds, a tenth of a small call, for nothing."""
        if self.in_transaction():
            self.close()

    def get_bind(self, mapper: Any = None, **kwargs: Any) -> Any:
        connection = self._function_transaction.connection
        if connection is not None:
            return connection
        return super().get_bind(mapper, **kwargs)
