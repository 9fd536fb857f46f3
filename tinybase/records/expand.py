"""``expand``: foreign keys of a page replaced by the records they reference.

Each referenced record is read through the API exposing its table, with the caller's own
ACLs and read rule: what the caller may not read comes back as None. The API's other
expandable columns come back as ``{"id": ...}`` (TrailBase's shape; NULL stays null).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinybase.auth.principal import Principal
from tinybase.errors import BadRequestError
from tinybase.records.keys import plain_id

if TYPE_CHECKING:
    from tinybase.records.engine import RecordEngine

__all__ = ["expand_records"]


def expand_records(
    engine: RecordEngine,
    principal: Principal,
    records: list[dict[str, Any]],
    names: Sequence[str],
) -> None:
    """Replace, in place, the ``names`` columns of ``records`` (rows of ``engine``'s API)
    by ``{"id": ..., "data": {...}}`` or None, and its other expandable columns by
    ``{"id": ...}``.

    Raises:
        BadRequestError: a name the API does not allow to expand, or no foreign key.
    """
    api = engine.api
    for name in names:
        if name not in api.expand:
            raise BadRequestError(f"expand: {name[:64]!r} is not expandable")
        engine.resolver.resolve(name)
        target = _target(engine, name)
        found = target.read_many(principal, (r[name] for r in records)) if target else {}
        for record in records:
            value = record[name]
            data = None if value is None else found.get(str(value))
            record[name] = None if data is None else {"id": plain_id(value), "data": data}
    for name in api.expand:
        if name in names or name not in engine.readable:
            continue
        for record in records:
            if record[name] is not None:
                record[name] = {"id": plain_id(record[name])}


def _target(engine: RecordEngine, name: str) -> RecordEngine | None:
    """The engine of the API exposing the table ``name`` references (by its key)."""
    column = engine.table.c[name]
    for foreign_key in column.foreign_keys:
        table_name, _, key = foreign_key.target_fullname.rpartition(".")
        target = engine.expand_lookup(table_name) if engine.expand_lookup else None
        if target is not None and target.pk == key:
            return target
    if not column.foreign_keys:
        raise BadRequestError(f"expand: {name!r} is not a foreign key")
    return None
