"""The base of every Pydantic request body: text that cannot be stored is a 422, not a 500.

JSON may spell a lone UTF-16 surrogate (``"\\ud800"``): valid JSON text, and Python decodes
it into a ``str``, but no such string can be encoded as UTF-8, so argon2, SHA-256 and both
database drivers fail on it deep inside a service (a 500). One validator on the base model
rejects such strings in every field (nested in lists and objects too) when the body is
parsed, with FastAPI's error shape naming the field:
``{"detail": [{"loc": ["body", "<field>"], "msg": ..., "type": "string_unicode"}]}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError

from tinybase.utils import is_unicode

__all__ = ["UNENCODABLE_MESSAGE", "UNENCODABLE_TYPE", "RequestBody", "reject_unencodable"]

# Pydantic's own type and wording for undecodable text: the record bodies' parser
# (tinybase.api.json_body) uses them too, so clients see one error everywhere.
UNENCODABLE_TYPE = "string_unicode"
UNENCODABLE_MESSAGE = "Input should be a valid string, unable to parse raw data as a unicode string"


def reject_unencodable(value: Any) -> Any:
    """``value`` unchanged, if every string in it (keys included) can be encoded as UTF-8.

    Walks nested lists and objects with a stack, not recursion: depth is no risk here.

    Raises:
        PydanticCustomError: of type ``string_unicode`` (inside a validator: a 422).
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_unicode(item):
                raise PydanticCustomError(UNENCODABLE_TYPE, UNENCODABLE_MESSAGE)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
    return value


class RequestBody(BaseModel):
    """A JSON request body whose strings can all be encoded as UTF-8 (see the module)."""

    @field_validator("*", mode="after")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        return reject_unencodable(value)
