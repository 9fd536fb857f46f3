"""``register``: the decorator that collects functions, and an instance's registry of them.

Decorating only records a :class:`FunctionSpec` in the process-wide collection (one of the
architecture's two exceptions to "no module-level registries", like the hook decorators of
``tinybase.extensions``); a running instance builds its own :class:`FunctionRegistry` from
:func:`collected_functions` at start-up, so importing a module never reaches an app.
"""

from __future__ import annotations

import inspect
import re
import threading
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from tinybase.auth.principal import Principal
from tinybase.errors import AuthenticationError, PermissionDeniedError, ValidationError
from tinybase.functions.errors import (
    DuplicateFunctionError,
    FunctionPreparingError,
    UnknownFunctionError,
)
from tinybase.utils import AuthLevel

__all__ = [
    "FunctionRegistry",
    "FunctionSpec",
    "check_function_name",
    "collected_functions",
    "register",
]

Handler = Callable[..., Any]
_F = TypeVar("_F", bound=Handler)


@dataclass(frozen=True, eq=False)
class FunctionSpec:
    """One registered function.

    Attributes:
        name: its unique name (the ``{name}`` of ``/api/functions/{name}``).
        handler: the function, ``handler(ctx)`` or ``handler(ctx, payload)``, sync or async.
        description, auth, tags: as given to :func:`register`.
        input_type: the payload's type: ``input_model``, else the ``payload`` parameter's
            annotation, else ``dict[str, Any]``.
        output_type: ``output_model``, else the return annotation, else ``Any``.
        input_model, output_model: as given to :func:`register` (None if not given).
    """

    name: str
    handler: Handler
    description: str | None
    auth: AuthLevel
    tags: tuple[str, ...]
    input_type: Any
    output_type: Any
    input_model: type[BaseModel] | None = None
    output_model: type[BaseModel] | None = None
    takes_payload: bool = True
    is_async: bool = False
    input_adapter: TypeAdapter[Any] = field(init=False, repr=False)
    output_adapter: TypeAdapter[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_adapter", TypeAdapter(self.input_type))
        object.__setattr__(self, "output_adapter", TypeAdapter(self.output_type))

    @property
    def module(self) -> str:
        """The module that registered it (the extensions listing groups by it)."""
        return getattr(self.handler, "__module__", "?")

    @property
    def place(self) -> str:
        """Where it is defined, ``file:line`` (named in errors such as duplicate names)."""
        target = inspect.unwrap(self.handler)
        try:
            return f"{inspect.getsourcefile(target)}:{inspect.getsourcelines(target)[1]}"
        except (OSError, TypeError):
            return f"{self.module}.{getattr(target, '__qualname__', '?')}"

    def public(self) -> dict[str, Any]:
        """What callers are told: name, description, auth and tags."""
        return {
            "name": self.name,
            "description": self.description,
            "auth": self.auth.value,
            "tags": list(self.tags),
        }

    kind = "python"
    """``"python"`` (in-process) or ``"isolated"`` (a ``tinybase_sdk`` script)."""

    def json_schema(self, role: str, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
        """The JSON Schema of the payload (``role="input"``) or of the output."""
        adapter = self.input_adapter if role == "input" else self.output_adapter
        return adapter.json_schema(ref_template=ref_template)

    def model_name(self, role: str) -> str | None:
        """The Pydantic model's name of the payload or output, None for another type."""
        kind = self.input_type if role == "input" else self.output_type
        return kind.__name__ if isinstance(kind, type) and issubclass(kind, BaseModel) else None

    def check_caller(self, principal: Principal) -> None:
        """Raise unless ``principal`` may call this function.

        Raises:
            AuthenticationError: an ``auth`` or ``admin`` function, called anonymously.
            PermissionDeniedError: an ``admin`` function, called by a normal user.
        """
        if self.auth is AuthLevel.PUBLIC or principal.is_admin:
            return  # admins, and TinyBase's own code (SYSTEM: scheduled runs), call any
        if not principal.is_authenticated:
            raise AuthenticationError()
        if self.auth is AuthLevel.ADMIN and not principal.is_admin:
            raise PermissionDeniedError(f"Function {self.name!r} is for admins only")

    def callable_by(self, principal: Principal) -> bool:
        """Whether ``principal`` may call it (no exception)."""
        if self.auth is AuthLevel.PUBLIC:
            return True
        if self.auth is AuthLevel.AUTH:
            return principal.is_authenticated or principal.is_admin
        return principal.is_admin


_collected: list[FunctionSpec] = []
_guard = threading.Lock()


def collected_functions() -> tuple[FunctionSpec, ...]:
    """Every function registered in this process so far, in registration order."""
    with _guard:
        return tuple(_collected)


def register(
    name: str,
    description: str | None = None,
    auth: str = "auth",
    input_model: type[BaseModel] | None = None,
    output_model: type[BaseModel] | None = None,
    tags: list[str] | None = None,
) -> Callable[[_F], _F]:
    """Register a function with TinyBase (the seed's decorator).

    Args:
        name: the unique function identifier.
        description: a human-readable description (default: the docstring's first line).
        auth: who may call it: ``"public"``, ``"auth"`` (logged-in users) or ``"admin"``.
        input_model: the payload's Pydantic model (default: the ``payload`` annotation).
        output_model: the result's Pydantic model (default: the return annotation).
        tags: categorization tags.

    Returns:
        A decorator that records the function and returns it unchanged.

    Raises:
        ValueError: a bad name or auth level, or a signature other than ``(ctx)`` or
            ``(ctx, payload)``.
    """
    level = _auth_level(auth)
    _check_name(name)

    def decorate(handler: _F) -> _F:
        spec = _spec(handler, name, description, level, input_model, output_model, tags)
        with _guard:
            _collected.append(spec)
        return handler

    return decorate


def _spec(
    handler: Handler,
    name: str,
    description: str | None,
    auth: AuthLevel,
    input_model: type[BaseModel] | None,
    output_model: type[BaseModel] | None,
    tags: list[str] | None,
) -> FunctionSpec:
    if not callable(handler):
        raise TypeError(f"@register({name!r}) needs a function, not {handler!r}")
    parameters = list(inspect.signature(handler).parameters.values())
    if not 1 <= len(parameters) <= 2:
        raise ValueError(f"function {name!r} must take (ctx) or (ctx, payload)")
    hints = _hints(handler)
    payload_hint = hints.get(parameters[1].name, dict[str, Any]) if len(parameters) == 2 else None
    return_hint = hints.get("return", Any)
    doc = inspect.getdoc(handler)
    return FunctionSpec(
        name=name,
        handler=handler,
        description=description if description is not None else _first_line(doc),
        auth=auth,
        tags=tuple(tags or ()),
        input_type=input_model or payload_hint or dict[str, Any],
        output_type=output_model or (Any if return_hint is type(None) else return_hint),
        input_model=input_model,
        output_model=output_model,
        takes_payload=len(parameters) == 2,
        is_async=inspect.iscoroutinefunction(inspect.unwrap(handler)),
    )


def _hints(handler: Handler) -> dict[str, Any]:
    try:
        return typing.get_type_hints(handler)
    except Exception as exc:  # NameError of a forward reference, or a broken annotation
        raise ValueError(f"cannot resolve the annotations of {handler!r}: {exc}") from exc


def _first_line(doc: str | None) -> str | None:
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def _auth_level(auth: str) -> AuthLevel:
    try:
        return AuthLevel(auth)
    except ValueError:
        raise ValueError(f"auth must be 'public', 'auth' or 'admin', not {auth!r}") from None


_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


def _check_name(name: str) -> None:
    # The name is a URL path segment and part of OpenAPI ids: keep it plain.
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"a function name is 1-100 of A-Z a-z 0-9 _ -, not {name!r}")


def check_function_name(name: str) -> None:
    """Check a function name given over HTTP (a deploy).

    Raises:
        ValidationError: not 1-100 of A-Z a-z 0-9 _ - (422).
    """
    try:
        _check_name(name)
    except ValueError as exc:
        raise ValidationError.for_field("name", str(exc)) from None


class FunctionRegistry:
    """An instance's functions by name, built at start-up from the collected specs.

    Isolated functions come and go while the instance runs (:meth:`put`, :meth:`remove`);
    a name being prepared answers 503 until it is ready (:meth:`preparing`). ``version``
    changes with every change, so cached documents (OpenAPI) know when to rebuild.

    Raises:
        DuplicateFunctionError: two specs share a name (the message names both places).
    """

    def __init__(self, specs: Iterable[FunctionSpec]) -> None:
        self._specs: dict[str, FunctionSpec] = {}
        self._preparing: set[str] = set()
        self.version = 0
        for spec in specs:
            earlier = self._specs.get(spec.name)
            if earlier is not None and earlier.handler is not spec.handler:
                raise DuplicateFunctionError(
                    f"two functions are named {spec.name!r}: {earlier.place} and {spec.place}"
                )
            self._specs[spec.name] = spec

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, name: str) -> FunctionSpec:
        """The function named ``name``.

        Raises:
            UnknownFunctionError: there is none.
        """
        spec = self._specs.get(name)
        if spec is None:
            if name in self._preparing:
                raise FunctionPreparingError(name)
            raise UnknownFunctionError(name)
        return spec

    def find(self, name: str) -> FunctionSpec | None:
        """The function named ``name``, None if there is none."""
        return self._specs.get(name)

    def put(self, spec: FunctionSpec) -> None:
        """Add or replace an isolated function.

        Raises:
            DuplicateFunctionError: an in-process function has the name.
        """
        earlier = self._specs.get(spec.name)
        if earlier is not None and earlier.kind != spec.kind:
            raise DuplicateFunctionError(
                f"two functions are named {spec.name!r}: {earlier.place} and {spec.place}"
            )
        self._specs[spec.name] = spec
        self._preparing.discard(spec.name)
        self.version += 1

    def remove(self, name: str) -> None:
        """Forget an isolated function (and that it was being prepared)."""
        spec = self._specs.get(name)
        if spec is not None and spec.kind != "python":
            del self._specs[name]
        self._preparing.discard(name)
        self.version += 1

    def preparing(self, name: str) -> None:
        """Answer calls of ``name`` with 503 until it is :meth:`put` or removed (an
        isolated function being prepared is not served meanwhile)."""
        spec = self._specs.get(name)
        if spec is not None and spec.kind == "python":
            return
        self._specs.pop(name, None)
        self._preparing.add(name)
        self.version += 1

    def callable_by(self, principal: Principal) -> list[FunctionSpec]:
        """The functions ``principal`` may call, sorted by name."""
        return sorted(
            (spec for spec in self._specs.values() if spec.callable_by(principal)),
            key=lambda spec: spec.name,
        )
