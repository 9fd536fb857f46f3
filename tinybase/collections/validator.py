"""A collection's schema as the record engine's validator, for every API over its table.

Attached to the collection's default record API and to any other API over its table
(admin-defined, configured), so ``/api/records/v1/{api}`` (single, bulk, transactions),
``/api/collections`` and ``CollectionService`` check values exactly alike: typed values,
unknown fields refused, errors naming the field, relations only to records the caller may
read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tinybase.auth.principal import Principal
from tinybase.collections.names import SYSTEM_COLUMNS
from tinybase.collections.validation import field_error, validate_record_data
from tinybase.errors import ValidationError
from tinybase.records.config import RecordApiConfig
from tinybase.records.engine import ExpandLookup

if TYPE_CHECKING:
    from tinybase.collections.catalog import CollectionCatalog, CollectionDefinition

__all__ = ["CollectionValidator", "check_relations", "with_validator"]


class CollectionValidator:
    """A collection's schema as the record engine's ``RecordValidator``.

    Attached to the collection's default record API, so ``/api/records/v1/{collection}``
    (single, bulk, transactions) checks values exactly as ``/api/collections`` does.

    Args:
        catalog: where related collections are looked up.
        definition: the collection as the API was built from it.
        engines: the engine of the API exposing a table (the registry's), for relations.
    """

    #: Set by the server only: the id (UUIDv7, the pagination cursor) and the timestamps.
    server_columns = frozenset({"id", "created_at", "updated_at"})

    def __init__(
        self, catalog: CollectionCatalog, definition: CollectionDefinition, engines: ExpandLookup
    ) -> None:
        self.catalog = catalog
        self.definition = definition
        self.engines = engines
        self.typed_columns = frozenset(field.name for field in definition.schema.fields)
        self.file_columns = definition.schema.file_columns()

    def validate(self, principal: Principal, values: Any, *, partial: bool) -> dict[str, Any]:
        """Typed values of the schema's fields, plus ``owner_id`` (which the rules guard).

        Not ``partial`` (a create, or a full update), every field is set: given, its
        default, or null.

        Raises:
            ValidationError: a bad, missing or unknown field, a server-set column (``id`` on
                create, ``created_at``, ``updated_at``), or a relation the caller cannot read.
        """
        if not isinstance(values, Mapping):
            raise ValidationError.for_field("body", "expected a JSON object")
        data = dict(values)
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


def with_validator(
    catalog: CollectionCatalog, definition: CollectionDefinition, engines: ExpandLookup
) -> RecordApiConfig:
    """The collection's record API config with its :class:`CollectionValidator` attached."""
    return replace(definition.api, validator=CollectionValidator(catalog, definition, engines))


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
