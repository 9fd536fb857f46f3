"""The Table hot path: cached statements and row builders, direct SQLite write transactions."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from tinybase.data import UNSET, Database, NotFoundError


class Note:
    id: int
    title: str
    done: bool
    owner: str | None


def test_failed_insert_rolls_back_and_leaves_the_database_usable(any_raw_db: Database) -> None:
    notes = any_raw_db.create(Note)
    notes.insert(id=1, title="first", done=False)
    with pytest.raises(sa.exc.IntegrityError):
        notes.insert(id=1, title="duplicate", done=True)
    assert not any_raw_db.in_transaction
    assert notes.insert(title="second", done=True).id == 2
    assert [(n.id, n.title, n.done) for n in notes()] == [(1, "first", False), (2, "second", True)]


def test_insert_inside_transaction_rolls_back_with_it(any_raw_db: Database) -> None:
    notes = any_raw_db.create(Note)
    with pytest.raises(RuntimeError), any_raw_db.transaction():
        notes.insert(title="gone", done=False)
        raise RuntimeError
    assert notes() == []
    assert notes.count == 0


def test_xtra_after_cached_calls_still_filters(any_raw_db: Database) -> None:
    notes = any_raw_db.create(Note)
    notes.insert(title="a", done=False, owner="alma")
    notes.insert(title="b", done=False, owner="bob")
    assert len(notes("done = ?", [False], limit=5)) == 2
    assert notes[2].title == "b"
    notes.xtra(owner="alma")
    assert [n.title for n in notes("done = ?", [False], limit=5)] == ["a"]
    with pytest.raises(NotFoundError):
        notes[2]


def test_row_class_with_other_field_order_gets_every_column(any_raw_db: Database) -> None:
    any_raw_db.create(Note).insert(title="a", done=True, owner=None)

    @dataclass
    class Reordered:
        done: bool = UNSET
        owner: str | None = UNSET
        title: str = UNSET
        id: int = UNSET

    notes = any_raw_db.t.note
    notes.cls = Reordered
    assert notes[1] == Reordered(done=True, owner=None, title="a", id=1)
    assert notes(select="title, done") == [Reordered(done=True, title="a")]
    assert notes(with_pk=True) == [(1, Reordered(done=True, owner=None, title="a", id=1))]


def test_concurrent_inserts_from_threads_all_land(raw_db: Database) -> None:
    notes = raw_db.create(Note)

    def work(worker: int) -> None:
        for i in range(25):
            notes.insert(title=f"{worker}-{i}", done=False)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert notes.count == 100
    assert len({n.id for n in notes()}) == 100
