"""``register``: the decorator that names a script's function, and its metadata.

A script registers one function; the decorator only records it (in this module, like the
decorator collectors of TinyBase itself), and the worker or :func:`tinybase_sdk.cli.run`
finds it there once the script has run.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

__all__ = ["FunctionError", "RegisteredFunction", "register", "registered"]

AUTH_LEVELS = ("public", "auth", "admin")
SCHEMA_REF = "#/components/schemas/{model}"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
_F = TypeVar("_F", bound=Callable[..., Any])


class FunctionError(Exception):
    """Raise it in a function to answer its caller with ``status_code`` and ``detail``.

    Args:
        status_code: a client error status (400-499); 400 by default.
        detail: what the caller reads (a message or any JSON value); keep it safe to show.
    """

    def __init__(self, status_code: int = 400, detail: Any = "Bad request") -> None:
        if not 400 <= status_code <= 499:
            raise ValueError(f"a FunctionError's status must be 4xx, not {status_code}")
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


@dataclass(frozen=True, eq=False)
class RegisteredFunction:
    """The script's function and what :func:`register` was told."""

    name: str
    handler: Callable[..., Any]
    description: str | None
    auth: str
    tags: tuple[str, ...]
    input_type: Any
    output_type: Any
    takes_payload: bool
    input_adapter: TypeAdapter[Any] = field(init=False, repr=False)
    output_adapter: TypeAdapter[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_adapter", TypeAdapter(self.input_type))
        object.__setattr__(self, "output_adapter", TypeAdapter(self.output_type))

    def metadata(self) -> dict[str, Any]:
        """What TinyBase lists and documents: name, description, auth, tags, and the
        input and output JSON Schema (with ``$defs`` referenced as OpenAPI components)."""
        return {
            "name": self.name,
            "description": self.description,
            "auth": self.auth,
            "tags": list(self.tags),
            "input_schema": self.input_adapter.json_schema(ref_template=SCHEMA_REF),
            "output_schema": self.output_adapter.json_schema(ref_template=SCHEMA_REF),
            "input_model": _model_name(self.input_type),
            "output_model": _model_name(self.output_type),
        }


_registered: list[RegisteredFunction] = []


def registered() -> RegisteredFunction | None:
    """The function the script registered (the last one, if it registered several)."""
    return _registered[-1] if _registered else None


def register(
    name: str,
    description: str | None = None,
    auth: str = "auth",
    tags: list[str] | None = None,
) -> Callable[[_F], _F]:
    """Register the script's function.

    The function is ``fn(client)`` or ``fn(client, payload: Model) -> Model``: the payload's
    type is the second parameter's annotation (default ``dict``), the output's the return
    annotation (default: any JSON value). Pydantic models, ``dict``, ``list`` and the basic
    types all work.

    Args:
        name: the function's unique name (``/api/functions/{name}``).
        description: a human-readable description (default: the docstring's first line).
        auth: who may call it: ``"public"``, ``"auth"`` (logged-in users) or ``"admin"``.
        tags: categorization tags.

    Raises:
        ValueError: a bad name or auth level, or another signature.
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"a function name is 1-100 of A-Z a-z 0-9 _ -, not {name!r}")
    if auth not in AUTH_LEVELS:
        raise ValueError(f"auth must be 'public', 'auth' or 'admin', not {auth!r}")

    def decorate(handler: _F) -> _F:
        _registered.append(_function(handler, name, description, auth, tags))
        return handler

    return decorate


def _function(
    handler: Callable[..., Any],
    name: str,
    description: str | None,
    auth: str,
    tags: list[str] | None,
) -> RegisteredFunction:
    if inspect.iscoroutinefunction(handler):
        raise ValueError(f"function {name!r} must be a plain (sync) function")
    parameters = list(inspect.signature(handler).parameters.values())
    if not 1 <= len(parameters) <= 2:
        raise ValueError(f"function {name!r} must take (client) or (client, payload)")
    hints = typing.get_type_hints(handler)
    payload_hint = hints.get(parameters[1].name, dict[str, Any]) if len(parameters) == 2 else None
    return_hint = hints.get("return", Any)
    doc = inspect.getdoc(handler)
    return RegisteredFunction(
        name=name,
        handler=handler,
        description=description if description is not None else _first_line(doc),
        auth=auth,
        tags=tuple(tags or ()),
        input_type=payload_hint or dict[str, Any],
        output_type=Any if return_hint is type(None) else return_hint,
        takes_payload=len(parameters) == 2,
    )


def _first_line(doc: str | None) -> str | None:
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def _model_name(kind: Any) -> str | None:
    return kind.__name__ if isinstance(kind, type) and issubclass(kind, BaseModel) else None
