"""JSON request bodies parsed into values the engines and the database can take.

Every JSON body of the record APIs (both families, bulk creates, transactions) is parsed
here, once, so that what reaches a record engine is plain JSON data holding valid Unicode:

- orjson parses nearly every body (fast path, nothing else checked). It refuses integers
  past 64 bits, nesting past 1024 levels, lone UTF-16 surrogates (``"\\ud800"``) and numbers
  out of a double's range.
- Only for those bodies the standard library parses again, so that a big integer reaches
  the engine and is refused there with its field named. That parser recurses in C: a deep
  body is a :class:`RecursionError`, answered 400 here. Its values are then checked for lone
  surrogates, which SQLite and PostgreSQL refuse on bind (a 500 before this) and orjson
  cannot encode in a response; the 422 names where the bad string is.

The body's size is bounded before it is read
(:class:`tinybase.api.middleware.BodySizeLimitMiddleware`).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from tinybase.api.bodies import UNENCODABLE_MESSAGE, UNENCODABLE_TYPE
from tinybase.errors import BadRequestError, ValidationError
from tinybase.utils import is_unicode

__all__ = ["parse_json_body"]

_NOT_JSON = "the body is not valid JSON"


def parse_json_body(raw: bytes) -> Any:
    """The JSON value of a request body.

    Raises:
        BadRequestError: not JSON (also: not UTF-8, NaN or Infinity, a float out of range),
            or nested too deeply to parse (400).
        ValidationError: a string or object key holds a lone UTF-16 surrogate (422, its
            place in the body as ``loc``).
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    value = _parse_strictly(raw)
    _check_unicode(value)
    return value


class _OutOfRange(ValueError):
    """A JSON number that no double can hold (``1e400``)."""


def _parse_strictly(raw: bytes) -> Any:
    """The body as the standard library parses it, with orjson's strictness where it matters."""
    try:
        # Decoded first, strictly: json.loads would take UTF-16 bodies and UTF-8-encoded
        # surrogates ("surrogatepass"), which are not JSON text.
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequestError("the body is nested too deeply") from None
    except _OutOfRange:
        raise BadRequestError("the body holds a number out of range") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise BadRequestError(_NOT_JSON) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise _OutOfRange(text)
    return number


def _check_unicode(value: Any) -> None:
    """Refuse the first string or key found with a lone surrogate (no recursion: the value
    may be nested as deep as the parser allowed)."""
    # Each entry: a value, the index of its container's entry, its key or index there.
    entries: list[tuple[Any, int, str | int | None]] = [(value, -1, None)]
    position = 0
    while position < len(entries):
        item = entries[position][0]
        if isinstance(item, str) and not is_unicode(item):
            raise _surrogate_error(_path(entries, position))
        if isinstance(item, dict):
            for key, child in item.items():
                if not is_unicode(key):
                    raise _surrogate_error([*_path(entries, position), _escaped(key)])
                entries.append((child, position, key))
        elif isinstance(item, list):
            entries.extend((child, position, index) for index, child in enumerate(item))
        position += 1


def _path(entries: list[tuple[Any, int, str | int | None]], position: int) -> list[str | int]:
    path: list[str | int] = []
    while position > 0:
        _, parent, key = entries[position]
        assert key is not None
        path.append(_escaped(key) if isinstance(key, str) else key)
        position = parent
    return path[::-1]


def _escaped(key: str) -> str:
    """A key as it can be shown in a response: a lone surrogate as its ``\\udXXX`` escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogate_error(path: list[str | int]) -> ValidationError:
    error = {"loc": ["body", *path], "msg": UNENCODABLE_MESSAGE, "type": UNENCODABLE_TYPE}
    return ValidationError([error])
