"""A collection's schema as the record engine's validator, for every API over its table.

Attached to the collection's default record API and to any other API over its table
(admin-defined, configured), so ``/api/records/v1/{api}`` (single, bulk, transactions),
``/api/collections`` and ``CollectionService`` check values exactly alike: typed values,
unknown fields refused, errors naming the field, relations only to records the caller may
read.

The validator is the last link of a chain: an instance's ``before`` hooks
(:class:`BeforeWrite`, extensions' ``before_record_*`` wired at start-up; collections never
import extensions) see the values first, inside the write's transaction, and may change them
or refuse the write; the schema then checks what they left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from tinybase.auth.principal import Principal
from tinybase.collections.names import SYSTEM_COLUMNS
from tinybase.collections.validation import field_error, validate_record_data
from tinybase.errors import ValidationError
from tinybase.records.config import RecordApiConfig
from tinybase.records.engine import ExpandLookup

if TYPE_CHECKING:
    from tinybase.collections.catalog import CollectionCatalog, CollectionDefinition

__all__ = ["BeforeWrite", "CollectionValidator", "StoredRow", "check_relations", "with_validator"]

StoredRow = Callable[[], "Mapping[str, Any] | None"]
"""Reads the stored row a write is about, inside the write (None: there is none)."""


class BeforeWrite(Protocol):
    """Code that runs before each write to a collection, inside the write's transaction.

    ``data`` holds the field values a create or update would store (no system columns), for
    the callee to change in place or replace with the dict it returns. Any
    ``tinybase.errors.TinyBaseError`` it raises refuses the write with that error.
    """

    def wants(self, collection: str, operation: str) -> bool:
        """Whether anything runs before ``operation`` (create, update, delete) on it."""
        ...

    def before_create(
        self, collection: str, principal: Principal, data: dict[str, Any], owner_id: Any
    ) -> dict[str, Any]: ...

    def before_update(
        self,
        collection: str,
        principal: Principal,
        record_id: Any,
        data: dict[str, Any],
        stored: StoredRow,
    ) -> dict[str, Any]: ...

    def before_delete(
        self, collection: str, principal: Principal, record_id: Any, stored: StoredRow
    ) -> None: ...


class CollectionValidator:
    """A collection's schema as the record engine's ``RecordValidator``.

    Attached to the collection's default record API, so ``/api/records/v1/{collection}``
    (single, bulk, transactions) checks values exactly as ``/api/collections`` does.

    Args:
        catalog: where related collections are looked up.
        definition: the collection as the API was built from it.
        engines: the engine of the API exposing a table (the registry's), for relations.
        before: what runs before each write (the chain's earlier links), if anything.
    """

    #: Set by the server only: the id (UUIDv7, the pagination cursor) and the timestamps.
    server_columns = frozenset({"id", "created_at", "updated_at"})

    def __init__(
        self,
        catalog: CollectionCatalog,
        definition: CollectionDefinition,
        engines: ExpandLookup,
        before: BeforeWrite | None = None,
    ) -> None:
        self.catalog = catalog
        self.definition = definition
        self.engines = engines
        self.before = before
        self.typed_columns = frozenset(field.name for field in definition.schema.fields)

    def validate(
        self, principal: Principal, values: Any, *, partial: bool, record_id: Any = None
    ) -> dict[str, Any]:
        """Typed values of the schema's fields, plus ``owner_id`` (which the rules guard),
        after the ``before`` hooks of a create (``record_id`` None) or an update.

        Not ``partial`` (a create, or a full update), every field is set: given, its
        default, or null.

        Raises:
            ValidationError: a bad, missing or unknown field, a server-set column (``id`` on
                create, ``created_at``, ``updated_at``), or a relation the caller cannot read.
        """
        if not isinstance(values, Mapping):
            raise ValidationError.for_field("body", "expected a JSON object")
        data = dict(values)
        if self.before is not None:
            data = self._run_before(principal, data, record_id)
        passed: dict[str, Any] = {}
        errors = []
        for name in SYSTEM_COLUMNS:
            if name not in data:
                continue
            value = data.pop(name)
            # owner_id: the access rules decide (never someone else's; unchanged on update).
            # id on update: the engine refuses any id but the record's own.
            if name == "owner_id" or (name == "id" and partial):
                passed[name] = value
            else:
                errors.append(field_error(name, "set by the server", kind="read_only"))
        if errors:
            raise ValidationError(errors)
        checked = validate_record_data(self.definition.schema, data, partial=partial)
        if not partial:
            checked = {field.name: None for field in self.definition.schema.fields} | checked
        check_relations(self.engines, principal, self.definition, checked)
        return checked | passed

    def before_delete(self, principal: Principal, record_id: Any) -> None:
        """Let the ``before`` hooks refuse the delete of ``record_id``."""
        name = self.definition.table.name
        if self.before is not None and self.before.wants(name, "delete"):
            self.before.before_delete(name, principal, record_id, self._stored(record_id))

    def _run_before(
        self, principal: Principal, data: dict[str, Any], record_id: Any
    ) -> dict[str, Any]:
        """``data`` as the hooks leave it; system columns pass by them untouched."""
        assert self.before is not None
        name = self.definition.table.name
        operation = "create" if record_id is None else "update"
        if not self.before.wants(name, operation):
            return data
        system = {key: data.pop(key) for key in SYSTEM_COLUMNS if key in data}
        if record_id is None:
            owner = system.get("owner_id", principal.user_id)
            data = self.before.before_create(name, principal, data, owner)
        else:
            data = self.before.before_update(
                name, principal, record_id, data, self._stored(record_id)
            )
        if not isinstance(data, Mapping):
            raise TypeError(f"a before-{operation} hook must leave a dict, not {data!r}")
        return dict(data) | system

    def _stored(self, record_id: Any) -> StoredRow:
        def stored() -> Mapping[str, Any] | None:
            engine = self.engines(self.definition.table.name)
            return None if engine is None else engine.stored_row(record_id)

        return stored


def with_validator(
    catalog: CollectionCatalog,
    definition: CollectionDefinition,
    engines: ExpandLookup,
    before: BeforeWrite | None = None,
) -> RecordApiConfig:
    """The collection's record API config with its :class:`CollectionValidator` attached."""
    validator = CollectionValidator(catalog, definition, engines, before)
    return replace(definition.api, validator=validator)


def check_relations(
    engines: ExpandLookup,
    principal: Principal,
    definition: CollectionDefinition,
    values: Mapping[str, Any],
) -> None:
    """Refuse a relation to a record the caller cannot read, naming the field.

    Security: the check goes through the target collection's read access, and the message is
    the same whether the record is missing or hidden, so a relation field cannot serve as an
    oracle for ids the caller may not know.
    """
    errors = []
    for field, target in definition.schema.relations().items():
        value = values.get(field)
        if value is None:
            continue
        target_engine = engines(target)
        found = {} if target_engine is None else target_engine.read_many(principal, [value])
        if str(value) not in found:
            errors.append(field_error(field, f"no record {value} in {target!r} you can read"))
    if errors:
        raise ValidationError(errors)
