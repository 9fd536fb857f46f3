"""The change stream: every committed create, update and delete of a record-API row.

The record engine records a :class:`RecordChange` for each row it writes, inside the write's
transaction, and hands it to :meth:`tinybase.data.Database.after_commit`: subscribers see it
once the outermost transaction has committed, in commit order, and never when it rolled back
(a failed job of a group commit, a failed operation of a transaction). Hooks, realtime and
file cleanup subscribe here; nothing else emits record events.

Recording costs a read of the row before an update or delete, so engines record only while
the stream has subscribers that want their table (:meth:`ChangeStream.active_for`: file
cleanup wants only tables with file columns).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tinybase.auth.principal import Principal

__all__ = ["ChangeStream", "RecordChange", "Subscriber"]

logger = logging.getLogger(__name__)

Operation = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One committed write to one row.

    Attributes:
        table: the table written.
        operation: ``create``, ``update`` or ``delete``.
        record_id: the row's primary key.
        before: every column of the row before (None for a create).
        after: every column of the row after (None for a delete).
        principal: who wrote it.
    """

    table: str
    operation: Operation
    record_id: Any
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    principal: Principal


Subscriber = Callable[[RecordChange], object]
TableFilter = Callable[[str], bool]


class ChangeStream:
    """The subscribers of committed record changes (one per instance, on ``AppState``).

    Subscribers are called in the writing thread right after the commit, in order; they
    should hand the change on (to a queue, an event loop) rather than work long there. One
    that raises is logged; the others still get the change.
    """

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()
        self._filters: dict[Subscriber, TableFilter] = {}
        self._guard = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether anyone listens (engines record changes only then)."""
        return bool(self._subscribers)

    def active_for(self, table: str) -> bool:
        """Whether anyone listens to writes of ``table`` (engines record changes only then)."""
        filters = self._filters
        return any(
            subscriber not in filters or filters[subscriber](table)
            for subscriber in self._subscribers
        )

    def subscribe(
        self, subscriber: Subscriber, *, tables: TableFilter | None = None
    ) -> Callable[[], None]:
        """Call ``subscriber`` with every committed change (of the tables for which
        ``tables`` is true, if given: a cheap test, run before every write); returns the
        unsubscribe call."""
        with self._guard:
            self._subscribers = (*self._subscribers, subscriber)
            if tables is not None:
                self._filters = {**self._filters, subscriber: tables}

        def unsubscribe() -> None:
            with self._guard:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)
                self._filters = {s: f for s, f in self._filters.items() if s is not subscriber}

        return unsubscribe

    def publish(self, change: RecordChange) -> None:
        """Hand ``change`` to every subscriber (called after the commit)."""
        filters = self._filters
        for subscriber in self._subscribers:
            wanted = filters.get(subscriber)
            if wanted is not None and not wanted(change.table):
                continue
            try:
                subscriber(change)
            except Exception:
                logger.exception("a change subscriber failed on %s", change.table)
