"""The hook decorators: they collect handlers at import time, as the seed writes them.

Decorating only records a :class:`HookSpec` in the process-wide collection (like
``tinybase.functions.register``, one of the architecture's two exceptions to "no module-level
registries"); a running instance takes the collection at start-up and dispatches from its own
copy (:mod:`tinybase.extensions.dispatch`), so importing a module never reaches an app.

Handlers may be plain functions or coroutine functions, except the ``before_record_*`` ones:
they run inside the write's transaction, in the writing thread, so an async one is refused
when it is registered (a ``TypeError`` at import time).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar, overload

__all__ = [
    "BEFORE_KINDS",
    "HookKind",
    "HookSpec",
    "before_record_create",
    "before_record_delete",
    "before_record_update",
    "collected_hooks",
    "forget_hooks",
    "on_function_call",
    "on_function_complete",
    "on_record_create",
    "on_record_delete",
    "on_record_update",
    "on_shutdown",
    "on_startup",
    "on_user_login",
    "on_user_register",
]

Handler = Callable[..., Any]
_H = TypeVar("_H", bound=Handler)


class HookKind(str, Enum):
    """When a hook runs."""

    STARTUP = "startup"
    SHUTDOWN = "shutdown"
    USER_LOGIN = "user_login"
    USER_REGISTER = "user_register"
    RECORD_CREATE = "record_create"
    RECORD_UPDATE = "record_update"
    RECORD_DELETE = "record_delete"
    BEFORE_RECORD_CREATE = "before_record_create"
    BEFORE_RECORD_UPDATE = "before_record_update"
    BEFORE_RECORD_DELETE = "before_record_delete"
    FUNCTION_CALL = "function_call"
    FUNCTION_COMPLETE = "function_complete"


@dataclass(frozen=True)
class HookSpec:
    """One registered handler.

    Attributes:
        kind: when it runs.
        handler: the function (sync or async).
        target: the collection (record hooks) or function name (function hooks) it is
            limited to; None means every one.
        module: the module that registered it (for the admin's list and for error logs).
    """

    kind: HookKind
    handler: Handler
    target: str | None = None

    @property
    def module(self) -> str:
        return getattr(self.handler, "__module__", None) or "?"  # None for builtins

    @property
    def name(self) -> str:
        return f"{self.module}.{getattr(self.handler, '__qualname__', repr(self.handler))}"


_collected: list[HookSpec] = []
_guard = threading.Lock()


def collected_hooks() -> tuple[HookSpec, ...]:
    """Every hook registered in this process so far, in registration order."""
    with _guard:
        return tuple(_collected)


BEFORE_KINDS = frozenset(
    {HookKind.BEFORE_RECORD_CREATE, HookKind.BEFORE_RECORD_UPDATE, HookKind.BEFORE_RECORD_DELETE}
)
"""The hooks that run inside a write's transaction, in the writing thread."""


def forget_hooks(specs: Iterable[HookSpec]) -> None:
    """Drop ``specs`` from the collection (those of an extension that failed half-way)."""
    gone = {id(spec) for spec in specs}
    with _guard:
        _collected[:] = [spec for spec in _collected if id(spec) not in gone]


def _collect(kind: HookKind, handler: _H, target: str | None = None) -> _H:
    if not callable(handler):
        raise TypeError(f"a {kind.value} hook must be callable, not {handler!r}")
    if kind in BEFORE_KINDS and inspect.iscoroutinefunction(handler):
        # The writing thread has no event loop to await it in, and the transaction is open.
        raise TypeError(
            f"{handler!r}: a {kind.value} hook runs inside the write's transaction and must "
            "be a plain function, not async"
        )
    with _guard:
        _collected.append(HookSpec(kind, handler, target))
    return handler


def on_startup(handler: _H) -> _H:
    """Run ``handler()`` when the app is ready (database migrated), in each process."""
    return _collect(HookKind.STARTUP, handler)


def on_shutdown(handler: _H) -> _H:
    """Run ``handler()`` on a graceful stop, in each process."""
    return _collect(HookKind.SHUTDOWN, handler)


def on_user_login(handler: _H) -> _H:
    """Run ``handler(UserLoginEvent)`` after each password login."""
    return _collect(HookKind.USER_LOGIN, handler)


def on_user_register(handler: _H) -> _H:
    """Run ``handler(UserRegisterEvent)`` for every user that comes to exist."""
    return _collect(HookKind.USER_REGISTER, handler)


def _targeted(kind: HookKind, target: str | Handler | None) -> Any:
    """The decorator for ``@hook(collection=...)``; a bare ``@hook`` means every target."""
    if callable(target):
        return _collect(kind, target)

    def decorate(handler: _H) -> _H:
        return _collect(kind, handler, target)

    return decorate


@overload
def on_record_create(collection: _H) -> _H: ...
@overload
def on_record_create(collection: str | None = None) -> Callable[[_H], _H]: ...
def on_record_create(collection: Any = None) -> Any:
    """Run ``handler(RecordCreateEvent)`` after a create in ``collection`` (None: any) commits."""
    return _targeted(HookKind.RECORD_CREATE, collection)


@overload
def on_record_update(collection: _H) -> _H: ...
@overload
def on_record_update(collection: str | None = None) -> Callable[[_H], _H]: ...
def on_record_update(collection: Any = None) -> Any:
    """Run ``handler(RecordUpdateEvent)`` after an update in ``collection`` commits."""
    return _targeted(HookKind.RECORD_UPDATE, collection)


@overload
def on_record_delete(collection: _H) -> _H: ...
@overload
def on_record_delete(collection: str | None = None) -> Callable[[_H], _H]: ...
def on_record_delete(collection: Any = None) -> Any:
    """Run ``handler(RecordDeleteEvent)`` after a delete in ``collection`` commits."""
    return _targeted(HookKind.RECORD_DELETE, collection)


@overload
def before_record_create(collection: _H) -> _H: ...
@overload
def before_record_create(collection: str | None = None) -> Callable[[_H], _H]: ...
def before_record_create(collection: Any = None) -> Any:
    """Run ``handler(event)`` inside the write's transaction, before a create: it may change
    ``event.data`` or refuse the write by raising (see docs/extensions.md)."""
    return _targeted(HookKind.BEFORE_RECORD_CREATE, collection)


@overload
def before_record_update(collection: _H) -> _H: ...
@overload
def before_record_update(collection: str | None = None) -> Callable[[_H], _H]: ...
def before_record_update(collection: Any = None) -> Any:
    """Like :func:`before_record_create`, before an update."""
    return _targeted(HookKind.BEFORE_RECORD_UPDATE, collection)


@overload
def before_record_delete(collection: _H) -> _H: ...
@overload
def before_record_delete(collection: str | None = None) -> Callable[[_H], _H]: ...
def before_record_delete(collection: Any = None) -> Any:
    """Like :func:`before_record_create`, before a delete (it may only refuse)."""
    return _targeted(HookKind.BEFORE_RECORD_DELETE, collection)


@overload
def on_function_call(name: _H) -> _H: ...
@overload
def on_function_call(name: str | None = None) -> Callable[[_H], _H]: ...
def on_function_call(name: Any = None) -> Any:
    """Run ``handler(FunctionCallEvent)`` before each call of function ``name`` (None: any)."""
    return _targeted(HookKind.FUNCTION_CALL, name)


@overload
def on_function_complete(name: _H) -> _H: ...
@overload
def on_function_complete(name: str | None = None) -> Callable[[_H], _H]: ...
def on_function_complete(name: Any = None) -> Any:
    """Run ``handler(FunctionCompleteEvent)`` after each call of function ``name``."""
    return _targeted(HookKind.FUNCTION_COMPLETE, name)
