"""Response helpers: JSON is encoded once, with orjson, straight from plain values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import starlette.responses

__all__ = ["JSONResponse", "dumps"]


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Decimal):
        # NUMERIC/DECIMAL columns read as Decimal, which orjson cannot encode (every read of
        # such a row was a 500): the exact number, as JSON spells it; NaN (PostgreSQL's
        # numeric has one) as null, like a float's.
        return orjson.Fragment(str(value).encode()) if value.is_finite() else None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    """Encode plain values (dicts, lists, UUIDs, datetimes, dataclasses) as JSON bytes."""
    return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JSONResponse(starlette.responses.JSONResponse):
    """A JSON response encoded by orjson.

    A Starlette ``JSONResponse`` (only ``render`` differs) so that FastAPI documents the
    routes answering with it as JSON: a bare ``Response`` subclass is documented as a
    string, whatever schema the route declares.
    """

    def render(self, content: Any) -> bytes:
        return dumps(content)
