"""The JSON Schema of a record API (``GET /api/records/v1/{api}/schema?mode=...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinybase.errors import BadRequestError
from tinybase.records.values import ValueKind

if TYPE_CHECKING:
    from tinybase.records.engine import RecordEngine

__all__ = ["MODES", "json_schema"]

MODES = ("Insert", "Update", "Select")

_TYPES: dict[str, dict[str, Any]] = {
    ValueKind.INTEGER: {"type": "integer"},
    ValueKind.NUMBER: {"type": "number"},
    ValueKind.BOOLEAN: {"type": "boolean"},
    ValueKind.DATETIME: {"type": "string", "format": "date-time"},
    ValueKind.DATE: {"type": "string", "format": "date"},
    ValueKind.UUID: {"type": "string", "format": "uuid"},
    ValueKind.TEXT: {"type": "string"},
    ValueKind.JSON: {},
    # TrailBase's std.FileUpload(s): an upload input to write, the metadata when read.
    ValueKind.FILE: {"type": "object"},
    ValueKind.FILES: {"type": "array", "items": {"type": "object"}},
}


def json_schema(engine: RecordEngine, mode: str) -> dict[str, Any]:
    """The schema of the records ``engine`` accepts (Insert, Update) or returns (Select).

    Write-only (``_``) columns appear in Insert and Update only; excluded columns never.
    In Insert mode, columns TinyBase fills itself (generated ids, timestamps, autofilled
    user ids) and columns with a default are optional.

    Raises:
        BadRequestError: an unknown mode.
    """
    canonical = {m.lower(): m for m in MODES}.get(mode.lower())
    if canonical is None:
        raise BadRequestError(f"mode must be one of {', '.join(MODES)}")
    names = engine.readable if canonical == "Select" else tuple(engine.writable)
    if canonical != "Select":
        validator = engine.api.validator
        server = frozenset() if validator is None else validator.server_columns
        names = tuple(n for n in names if n not in engine.timestamps and n not in server)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name in names:
        column = engine.table.c[name]
        spec = dict(_TYPES[engine.kinds[name]])
        if column.nullable and spec:
            spec["type"] = [spec["type"], "null"]
        properties[name] = spec
        if _required(engine, name, canonical):
            required.append(name)
    return {
        "title": engine.api.name,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _required(engine: RecordEngine, name: str, mode: str) -> bool:
    column = engine.table.c[name]
    if mode == "Update" or column.nullable:
        return False
    if mode == "Select":
        return True
    if column.default is not None or column.server_default is not None:
        return False
    if name == engine.pk and (engine.kinds[name] == ValueKind.INTEGER or engine.generates_id):
        return False
    autofilled = engine.api.autofill_missing_user_id_columns and name in engine.user_columns
    return not autofilled
