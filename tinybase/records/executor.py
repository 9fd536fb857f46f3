"""Blocking database work off the event loop, in batches: one thread hop per batch of requests.

Handlers of the record APIs are ``async``; they hand their blocking part (one call into the
record engine) to the :class:`DatabaseExecutor` of their database and await the result. The
executor keeps a few dedicated threads fed from a queue. A worker takes every job already
waiting (up to ``MAX_BATCH``), runs them, and posts all their results back to the event loop
with a single ``call_soon_threadsafe``. Idle, that is one hop per request, as with a thread
pool; under load, one hop carries dozens of requests, so the per-request cost of crossing
threads (queue, wake-up, GIL hand-off, loop wake-up) mostly disappears.

Writes on SQLite go to one writer thread that commits a batch together (group commit): the
batch runs in one transaction, each job inside its own SAVEPOINT, so a job that fails rolls
back its own changes only and reports its own error; the others commit. A group is bounded
by jobs (``MAX_BATCH``) and by rows (``MAX_GROUP_ROWS``, from each job's ``rows`` hint): with
several worker processes on one file, the others wait for the lock while a group runs, so a
group of 64 bulk creates of 500 rows each (seconds of work) starved them into "database is
locked". A job's result is
posted only after the COMMIT returned, so an acknowledged write is as durable as a write
committed on its own (WAL, ``synchronous=NORMAL``). SQLite has one writer at a time anyway,
so nothing is lost by the single thread, and the COMMIT (the WAL append and its locks) is paid
once per batch instead of once per request. On PostgreSQL each write job runs in a
transaction of its own, on ``POSTGRES_WRITERS`` threads, since concurrent transactions there
really run in parallel. On both, a job that raises leaves none of its writes behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tinybase.data import Database

__all__ = ["MAX_BATCH", "MAX_GROUP_ROWS", "DatabaseExecutor", "Lane", "run_each"]

T = TypeVar("T")

MAX_BATCH = 64
MAX_GROUP_ROWS = 1000
READERS = 2
POSTGRES_WRITERS = 8

_Future = asyncio.Future[Any] | concurrent.futures.Future[Any]
_Outcome = tuple[_Future, bool, Any]


class _Job:
    """One call to run in a worker thread, with the caller's context (request id for logs).

    ``loop`` is the event loop of an ``async`` caller (its future settles there), or None for
    a blocking caller waiting on a ``concurrent.futures.Future`` in another thread.
    """

    __slots__ = ("context", "fn", "future", "loop", "rows")

    def __init__(
        self, fn: Callable[[], Any], loop: asyncio.AbstractEventLoop | None, rows: int
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.rows = rows
        self.future: _Future = concurrent.futures.Future() if loop is None else loop.create_future()
        self.context = contextvars.copy_context()

    def run(self) -> _Outcome:
        try:
            return self.future, True, self.context.run(self.fn)
        except Exception as exc:  # handed to the awaiting request, which raises it
            return self.future, False, exc


class Lane:
    """A queue of jobs and the threads that run them in batches.

    Args:
        name: the threads' name prefix.
        threads: how many workers.
        run_batch: runs a batch of jobs in a worker thread; returns their outcomes.
        max_batch: the most jobs a worker takes at once.
    """

    def __init__(
        self,
        name: str,
        threads: int,
        run_batch: Callable[[list[_Job]], list[_Outcome]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        self._started = False
        self._closed = False
        self._guard = threading.Lock()

    def submit(self, fn: Callable[[], T], rows: int = 1, *, blocking: bool = False) -> _Future:
        """Queue ``fn``; its future belongs to the running event loop, or is a
        ``concurrent.futures.Future`` for a ``blocking`` caller.

        Raises:
            RuntimeError: the lane is closed (its job would never run).
        """
        job = _Job(fn, None if blocking else asyncio.get_running_loop(), rows)
        with self._guard:  # not between close()'s stop markers and nobody to run it
            if self._closed:
                raise RuntimeError("the database executor is closed")
            if not self._started:
                self._start()
            self._queue.put(job)
        return job.future

    def runs_here(self) -> bool:
        """Whether the current thread is one of this lane's workers."""
        return threading.current_thread() in self._threads

    def close(self) -> None:
        # The threads stay known (runs_here): a job or subscriber of the last batches may
        # still write from one of them, joining its transaction instead of queuing.
        with self._guard:
            if self._started and not self._closed:
                for _ in self._threads:
                    self._queue.put(None)
            self._started = True  # a closed lane never starts (its jobs would never run)
            self._closed = True

    def _start(self) -> None:
        # Threads start on first use: an app that serves no record request has none.
        # (Called with the guard held.)
        for thread in self._threads:
            thread.start()
        self._started = True

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                return
            outcomes = self._run_batch(batch)
            _post(batch, outcomes)

    def _next_batch(self) -> list[_Job]:
        first = self._queue.get()
        if first is None:
            return []
        batch, rows = [first], first.rows
        while len(batch) < self._max_batch and rows < MAX_GROUP_ROWS:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # closing: finish this batch, then stop
                self._queue.put(None)
                break
            batch.append(job)
            rows += job.rows
        return batch


def _post(batch: list[_Job], outcomes: list[_Outcome]) -> None:
    """Hand the outcomes to their loops: one wake-up per loop per batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        if job.loop is None:  # a blocking caller: its future is thread-safe
            _settle([outcome])
        else:
            by_loop.setdefault(job.loop, []).append(outcome)
    for loop, settled in by_loop.items():
        # A loop closed meanwhile (RuntimeError) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, settled)


def _settle(outcomes: list[_Outcome]) -> None:
    for future, ok, value in outcomes:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def run_each(batch: list[_Job]) -> list[_Outcome]:
    """Run a batch's jobs one after another (a :class:`Lane`'s ``run_batch`` for jobs
    that need no common transaction)."""
    return [job.run() for job in batch]


class DatabaseExecutor:
    """Runs blocking calls for one database in dedicated threads; see the module docstring.

    One per running instance (``AppState.executor``): every write of the instance, from
    HTTP handlers (:meth:`write`) or from Python code in other threads (:meth:`write_blocking`),
    goes through its writer.

    Args:
        db: the database the jobs use (``db.write()`` / ``db.read()`` inside the jobs).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self.group_commit = db.dialect == "sqlite"
        self._reads = Lane("tinybase-db-read", READERS, run_each)
        if self.group_commit:
            self._writes = Lane("tinybase-db-write", 1, self._commit_group)
        else:
            self._writes = Lane("tinybase-db-write", POSTGRES_WRITERS, self._commit_each)

    async def read(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which only reads) in a reader thread; return or raise what it does."""
        return await self._reads.submit(fn)

    async def write(self, fn: Callable[[], T], *, rows: int = 1) -> T:
        """Run ``fn`` (which writes through ``db.write()``) in the writer thread.

        On SQLite ``fn`` joins the current group transaction in its own SAVEPOINT; its result
        is returned once the group has committed. If ``fn`` raises, only its own changes are
        rolled back and its exception is raised here. ``rows``: how many rows ``fn`` writes
        (about), which bounds the group it joins.
        """
        return await self._writes.submit(fn, rows)

    def write_blocking(self, fn: Callable[[], T], *, rows: int = 1) -> T:
        """:meth:`write` for a caller that is not on an event loop (Python code in a
        worker thread): blocks until ``fn`` has run and its group has committed.

        Called from inside a write (the writer thread itself, or any thread already in a
        ``db.write()``), ``fn`` joins that transaction instead: queuing it would wait for
        the very write that waits for it.
        """
        db = self._db
        if db.in_transaction or self._writes.runs_here():
            with db.write():
                return fn()
        future = self._writes.submit(fn, rows, blocking=True)
        assert isinstance(future, concurrent.futures.Future)
        return future.result()

    def close(self) -> None:
        """Stop the threads once the jobs already queued are done."""
        self._reads.close()
        self._writes.close()

    def _commit_group(self, batch: list[_Job]) -> list[_Outcome]:
        db = self._db
        try:
            with db.write():
                return [_run_isolated(db, job) for job in batch]
        except Exception as exc:  # BEGIN, a SAVEPOINT or COMMIT failed: the group is not written
            return [(job.future, False, exc) for job in batch]

    def _commit_each(self, batch: list[_Job]) -> list[_Outcome]:
        db = self._db
        outcomes: list[_Outcome] = []
        for job in batch:
            try:
                outcomes.append(_run_isolated(db, job))  # the outermost write(): BEGIN
            except Exception as exc:  # BEGIN or COMMIT failed: nothing of the job is written
                outcomes.append((job.future, False, exc))
        return outcomes


class _RollBack(Exception):
    """Raised inside a job's SAVEPOINT to roll it back after the job failed."""


def _run_isolated(db: Database, job: _Job) -> _Outcome:
    """Run ``job`` in its own ``db.write()``: a SAVEPOINT inside a group's transaction, else
    a transaction of its own. Either way, if the job raises, none of its writes remain."""
    outcome = (job.future, False, None)
    try:
        with db.write():
            outcome = job.run()
            if not outcome[1]:
                raise _RollBack
    except _RollBack:
        pass  # only this job's changes are gone; its exception goes back to its caller
    return outcome
