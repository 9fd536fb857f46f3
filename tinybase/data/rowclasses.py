"""Row classes: the ``UNSET`` marker, classes turned into dataclasses, records to dicts."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from tinybase.data.errors import InvalidDataError

__all__ = ["UNSET", "as_record", "class_fields", "make_dataclass", "make_flexiclass", "snake_case"]


class _Unset:
    """The type of :data:`UNSET`."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


#: A field that was not given: left out of INSERTs and UPDATEs.
UNSET: Any = _Unset()


def snake_case(name: str) -> str:
    """``TodoItem`` -> ``todo_item``; ``HTTPLog`` -> ``http_log``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def camel_case(name: str) -> str:
    """``todo_item`` -> ``TodoItem``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Row"


def make_flexiclass(cls: type) -> type:
    """Turn ``cls`` into a dataclass in place; fields without a default default to UNSET.

    Works on plain annotated classes and on existing dataclasses.
    """
    hints = _annotations(cls)
    existing = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    for name in hints:
        current = existing.get(name)
        if current is not None and current.default_factory is not dataclasses.MISSING:
            setattr(cls, name, dataclasses.field(default_factory=current.default_factory))
        elif current is not None and current.default is not dataclasses.MISSING:
            setattr(cls, name, current.default)
        elif name not in cls.__dict__:
            setattr(cls, name, UNSET)
    if "__annotations__" not in cls.__dict__:
        cls.__annotations__ = dict(hints)
    if existing and cls.__dataclass_params__.init and "__init__" in cls.__dict__:
        # dataclass() keeps an existing __init__: drop the generated one to get the defaults.
        del cls.__init__
    return dataclasses.dataclass(cls)


def _annotations(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints.update(inspect.get_annotations(klass))
    return {
        name: hint for name, hint in hints.items() if typing.get_origin(hint) is not typing.ClassVar
    }


def class_fields(cls: type) -> dict[str, Any]:
    """The dataclass fields of ``cls`` and their resolved annotations, in order."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):
        hints = {}
    return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(cls)}


def make_dataclass(name: str, fields: Iterable[tuple[str, Any]]) -> type:
    """A new dataclass whose fields are all optional and default to UNSET."""
    spec = [
        (field, annotation | None, dataclasses.field(default=UNSET)) for field, annotation in fields
    ]
    return dataclasses.make_dataclass(name, spec)


def as_record(obj: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a dict, dataclass, plain object or keyword arguments, UNSET ones removed.

    Raises:
        InvalidDataError: ``obj`` is none of those, or both ``obj`` and kwargs are given.
    """
    if obj is None:
        record = dict(kwargs)
    elif kwargs:
        raise InvalidDataError("pass a record or keyword arguments, not both")
    elif isinstance(obj, Mapping):
        record = dict(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        record = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        record.update(_extra_attributes(obj, record))
    elif hasattr(obj, "__dict__"):
        record = dict(vars(obj))
    else:
        raise InvalidDataError(f"cannot use {type(obj).__name__} as a record")
    return {key: value for key, value in record.items() if value is not UNSET}


def _extra_attributes(obj: Any, known: dict[str, Any]) -> dict[str, Any]:
    attributes = getattr(obj, "__dict__", None) or {}
    return {
        key: value
        for key, value in attributes.items()
        if key not in known and not key.startswith("_")
    }
