"""Before-record hooks: run inside the write's transaction, may change values or refuse.

:class:`BeforeRecordHooks` is the collections' ``BeforeWrite`` link for an instance's
:class:`~tinybase.extensions.dispatch.Hooks` (wired in ``build_state``): the collection
validator calls it first, in the writing thread and inside the transaction, for every write
path (both HTTP families, bulk creates, transactions, admin routes, ``CollectionService``),
and validates what the handlers leave.

A handler gets a ``BeforeRecord*Event``. To change the values it edits ``event.data`` in
place or returns a dict (which replaces ``event.data`` for the next handler). To refuse the
write it raises:

* :class:`~tinybase.extensions.RecordRejected` (``status_code`` 400 unless given, any 4xx):
  that status and detail;
* ``ValueError``: a 422 with its message as the detail;
* any other ``tinybase.errors.TinyBaseError``: its own status (``PermissionDeniedError`` 403 ...);
* anything else: a 500 with a generic detail; the error is logged with the hook's name and
  the traceback never reaches the client.

The whole write rolls back when a handler refuses it (in a transaction: every operation).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tinybase.auth.principal import Principal
from tinybase.collections.validator import StoredRow
from tinybase.errors import TinyBaseError, ValidationError
from tinybase.extensions.dispatch import Hooks
from tinybase.extensions.events import (
    BeforeRecordCreateEvent,
    BeforeRecordDeleteEvent,
    BeforeRecordUpdateEvent,
)
from tinybase.extensions.hooks import HookKind, HookSpec
from tinybase.extensions.record_hooks import as_uuid

__all__ = ["BeforeRecordHooks"]

logger = logging.getLogger("tinybase.extensions")

_KINDS = {
    "create": HookKind.BEFORE_RECORD_CREATE,
    "update": HookKind.BEFORE_RECORD_UPDATE,
    "delete": HookKind.BEFORE_RECORD_DELETE,
}
SYSTEM_FIELDS = ("id", "owner_id", "created_at", "updated_at")


class BeforeRecordHooks:
    """The before-record handlers of ``hooks``, as the collection validator's first link."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks

    def wants(self, collection: str, operation: str) -> bool:
        return self.hooks.has(_KINDS[operation], collection)

    def before_create(
        self, collection: str, principal: Principal, data: dict[str, Any], owner_id: Any
    ) -> dict[str, Any]:
        event = BeforeRecordCreateEvent(
            collection, data, as_uuid(owner_id), as_uuid(principal.user_id), principal.is_admin
        )
        return self._run(HookKind.BEFORE_RECORD_CREATE, collection, event)

    def before_update(
        self,
        collection: str,
        principal: Principal,
        record_id: Any,
        data: dict[str, Any],
        stored: StoredRow,
    ) -> dict[str, Any]:
        row = stored() or {}
        event = BeforeRecordUpdateEvent(
            collection,
            as_uuid(record_id),
            data,
            _fields(row),
            as_uuid(row.get("owner_id")),
            as_uuid(principal.user_id),
            principal.is_admin,
        )
        return self._run(HookKind.BEFORE_RECORD_UPDATE, collection, event)

    def before_delete(
        self, collection: str, principal: Principal, record_id: Any, stored: StoredRow
    ) -> None:
        row = stored() or {}
        event = BeforeRecordDeleteEvent(
            collection,
            as_uuid(record_id),
            _fields(row),
            as_uuid(row.get("owner_id")),
            as_uuid(principal.user_id),
            principal.is_admin,
        )
        self._run(HookKind.BEFORE_RECORD_DELETE, collection, event)

    def _run(self, kind: HookKind, collection: str, event: Any) -> dict[str, Any]:
        for spec in self.hooks.matching(kind, collection):
            result = _call(spec, event)
            if result is not None:
                if not isinstance(result, Mapping):
                    logger.error("hook %s returned %r, not a dict", spec.name, result)
                    raise TinyBaseError()
                event.data = dict(result)
        return event.data


def _call(spec: HookSpec, event: Any) -> Any:
    """One handler, its failures translated to what the client may see."""
    try:
        return spec.handler(event)
    except TinyBaseError:
        raise
    except ValueError as exc:
        raise ValidationError(str(exc) or "the write was refused") from exc
    except Exception as exc:
        logger.exception("hook %s (%s) failed on %r", spec.name, spec.kind.value, event)
        raise TinyBaseError() from exc


def _fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in row.items()
        if name not in SYSTEM_FIELDS and not name.startswith("_")
    }
