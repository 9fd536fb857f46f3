"""Record hooks from the one place that sees every committed write: the change stream.

:func:`connect_record_hooks` subscribes to ``AppState.changes`` when at least one
``on_record_create/update/delete`` hook is registered (engines record changes only while the
stream has subscribers, which costs a read before each update and delete, so an instance
without record hooks pays nothing). The subscriber runs in the writing thread right after the
commit: it only queues the change for the hook runner (:meth:`Hooks.run_later`); turning it
into the seed's event, and the handlers, run there, never in the write and never in the
request.

Only collection tables become events (a record API over another table announces changes
too, for realtime, but the seed's events are about collections). ``data`` holds the record's
field values as the collection API returns them (no system columns); ``owner_id`` and
``record_id`` are UUIDs, as the seed's event fields say.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tinybase.extensions.dispatch import Hooks
from tinybase.extensions.events import RecordCreateEvent, RecordDeleteEvent, RecordUpdateEvent
from tinybase.extensions.hooks import HookKind
from tinybase.records.changes import ChangeStream, RecordChange

if TYPE_CHECKING:
    from tinybase.collections.catalog import CollectionCatalog

__all__ = ["RECORD_KINDS", "as_uuid", "connect_record_hooks", "record_event"]

RECORD_KINDS = {
    "create": HookKind.RECORD_CREATE,
    "update": HookKind.RECORD_UPDATE,
    "delete": HookKind.RECORD_DELETE,
}

RecordEvent = RecordCreateEvent | RecordUpdateEvent | RecordDeleteEvent
FieldsOf = Callable[[str], tuple[str, ...] | None]
"""The field names of collection ``table`` (None: the table is not a collection's)."""


def connect_record_hooks(
    hooks: Hooks, changes: ChangeStream, catalog: CollectionCatalog
) -> Callable[[], None] | None:
    """Fire the record hooks of ``hooks`` for every committed change of a collection.

    Returns the unsubscribe call, or None when no record hook is registered (nothing is
    subscribed, so the engines do not record changes).
    """
    if not any(hooks.has_kind(kind) for kind in RECORD_KINDS.values()):
        return None

    def fields_of(table: str) -> tuple[str, ...] | None:
        definition = catalog.definition(table)
        if definition is None:
            return None
        return tuple(field.name for field in definition.schema.fields)

    def convert(change: RecordChange) -> RecordEvent | None:
        fields = fields_of(change.table)
        return None if fields is None else record_event(change, fields)

    def on_change(change: RecordChange) -> None:
        kind = RECORD_KINDS[change.operation]
        # System tables (``_user``...) are never collections: skip them without queueing.
        if not change.table.startswith("_") and hooks.has(kind, change.table):
            hooks.run_later(kind, change, change.table, convert=convert)

    return changes.subscribe(on_change)


def record_event(change: RecordChange, fields: tuple[str, ...]) -> RecordEvent:
    """The seed's event for ``change`` of a collection with ``fields``."""
    row = change.after if change.after is not None else change.before
    assert row is not None
    record_id = as_uuid(change.record_id)
    owner_id = as_uuid(row.get("owner_id"))
    if change.operation == "create":
        return RecordCreateEvent(change.table, record_id, _data(row, fields), owner_id)
    if change.operation == "delete":
        return RecordDeleteEvent(change.table, record_id, _data(row, fields), owner_id)
    assert change.before is not None and change.after is not None
    return RecordUpdateEvent(
        change.table,
        record_id,
        _data(change.before, fields),
        _data(change.after, fields),
        owner_id,
    )


def _data(row: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: row.get(name) for name in fields}


def as_uuid(value: Any) -> Any:
    """A UUID for a UUID-shaped id (collections' ids and owners), else the value itself."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return value
