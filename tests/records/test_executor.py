"""The DatabaseExecutor: results and errors reach their callers; group commit isolates writes."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa

from tinybase.data import Database
from tinybase.records.executor import DatabaseExecutor

_ROWS = sa.table("rows", sa.column("x"))


@pytest.fixture
def rows_db(raw_db: Database) -> Database:
    """``raw_db`` with an empty table ``rows (x INTEGER UNIQUE)``."""
    with raw_db.write() as connection:
        connection.execute(sa.text("CREATE TABLE rows (x INTEGER UNIQUE)"))
    return raw_db


def _insert(db: Database, x: int) -> int:
    with db.write() as connection:
        connection.execute(sa.insert(_ROWS).values(x=x))
    return x


def _insert_then_fail(db: Database, x: int) -> int:
    with db.write() as connection:
        connection.execute(sa.insert(_ROWS).values(x=x))
    raise RuntimeError(f"failed after writing {x}")


def _stored(db: Database) -> list[int]:
    with db.engine.connect() as connection:  # a separate connection: committed rows only
        return sorted(connection.execute(sa.text("SELECT x FROM rows")).scalars())


def test_read_returns_the_value_and_raises_the_error_of_the_call(rows_db: Database) -> None:
    executor = DatabaseExecutor(rows_db)

    async def main() -> tuple[int, str]:
        value = await executor.read(lambda: 41 + 1)
        with pytest.raises(KeyError) as caught:
            await executor.read(lambda: {}["missing"])
        return value, str(caught.value)

    try:
        assert asyncio.run(main()) == (42, "'missing'")
    finally:
        executor.close()


def test_each_caller_gets_its_own_result_from_a_batch(rows_db: Database) -> None:
    executor = DatabaseExecutor(rows_db)

    async def main() -> list[int]:
        return await asyncio.gather(*(executor.read(lambda n=n: n * n) for n in range(50)))

    try:
        assert asyncio.run(main()) == [n * n for n in range(50)]
    finally:
        executor.close()


def test_acknowledged_writes_are_committed(rows_db: Database) -> None:
    executor = DatabaseExecutor(rows_db)
    try:
        assert asyncio.run(executor.write(lambda: _insert(rows_db, 1))) == 1
        assert _stored(rows_db) == [1]
    finally:
        executor.close()


def test_a_failing_write_in_a_group_rolls_back_only_itself(rows_db: Database) -> None:
    executor = DatabaseExecutor(rows_db)
    release = threading.Event()

    async def main() -> list[object]:
        # Hold the writer so that the next writes queue up and run as one group.
        blocker = asyncio.ensure_future(executor.write(lambda: release.wait(10)))
        await asyncio.sleep(0.05)
        writes = [
            executor.write(lambda: _insert(rows_db, 1)),
            executor.write(lambda: _insert_then_fail(rows_db, 2)),
            executor.write(lambda: _insert(rows_db, 1)),  # a unique violation: its own error
            executor.write(lambda: _insert(rows_db, 3)),
        ]
        futures = [asyncio.ensure_future(write) for write in writes]
        await asyncio.sleep(0.05)
        release.set()
        await blocker
        return await asyncio.gather(*futures, return_exceptions=True)

    try:
        first, failed, duplicate, last = asyncio.run(main())
    finally:
        executor.close()
    assert (first, last) == (1, 3)
    assert isinstance(failed, RuntimeError) and str(failed) == "failed after writing 2"
    assert isinstance(duplicate, sa.exc.IntegrityError)
    assert _stored(rows_db) == [1, 3]


def test_a_group_is_bounded_by_rows_as_well_as_jobs(rows_db: Database) -> None:
    if rows_db.dialect != "sqlite":
        pytest.skip("group commit is SQLite's")
    executor = DatabaseExecutor(rows_db)
    commits: list[int] = []
    sa.event.listen(rows_db.engine, "commit", lambda connection: commits.append(1))
    gate = threading.Event()

    async def main() -> list[int]:
        blocker = asyncio.ensure_future(
            executor.write(lambda: gate.wait(5) and _insert(rows_db, 0))
        )
        await asyncio.sleep(0.05)  # the writer thread is busy: the next four queue up
        heavy = [
            asyncio.ensure_future(executor.write(lambda n=n: _insert(rows_db, n), rows=600))
            for n in range(1, 5)
        ]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(blocker, *heavy)

    try:
        assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    finally:
        executor.close()
    # The blocker alone, then two groups of 2 x 600 rows (one group of four without rows).
    assert len(commits) == 3 and _stored(rows_db) == [0, 1, 2, 3, 4]


def test_group_commit_is_used_on_sqlite_only(rows_db: Database) -> None:
    executor = DatabaseExecutor(rows_db)
    try:
        assert executor.group_commit == (rows_db.dialect == "sqlite")
    finally:
        executor.close()


def test_write_blocking_from_a_plain_thread_returns_after_the_commit(rows_db: Database) -> None:
    executor = DatabaseExecutor(rows_db)
    results: list[object] = []

    def caller(x: int) -> None:
        try:
            results.append(executor.write_blocking(lambda: _insert(rows_db, x)))
            assert x in _stored(rows_db)  # committed when the call returns
        except Exception as exc:
            results.append(exc)

    try:
        threads = [threading.Thread(target=caller, args=(x,)) for x in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == list(range(8))
        assert _stored(rows_db) == list(range(8))
        with pytest.raises(RuntimeError, match="failed after writing 99"):
            executor.write_blocking(lambda: _insert_then_fail(rows_db, 99))
        assert _stored(rows_db) == list(range(8))
    finally:
        executor.close()


def test_write_blocking_inside_a_write_joins_it_instead_of_waiting_for_itself(
    rows_db: Database,
) -> None:
    executor = DatabaseExecutor(rows_db)

    def job() -> int:
        # In the writer thread: a nested blocking write must not queue behind this job.
        return executor.write_blocking(lambda: _insert(rows_db, 1)) + 1

    try:
        assert asyncio.run(executor.write(job)) == 2
        with rows_db.write():
            executor.write_blocking(lambda: _insert(rows_db, 2))
            assert _stored(rows_db) == [1]  # joined this transaction: not committed yet
        assert _stored(rows_db) == [1, 2]
    finally:
        executor.close()
