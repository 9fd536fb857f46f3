"""What the scheduler needs of the functions machinery: check a call, make a call.

:class:`ScheduledFunctions` is the seam; :class:`InstanceFunctions` implements it with the
instance's function registry and runner (:mod:`tinybase.functions`), so a scheduled run is a
call like any other: a ``_function_call`` record with ``trigger_type "schedule"`` and
``trigger_id`` the schedule's id, a ``Context`` carrying both, the ``on_function_call`` and
``on_function_complete`` hooks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from tinybase.auth.principal import Principal
from tinybase.errors import NotFoundError, TinyBaseError, ValidationError
from tinybase.functions.registry import FunctionRegistry
from tinybase.functions.runner import FunctionCallFailed, FunctionRunner

__all__ = ["InstanceFunctions", "RunOutcome", "ScheduledFunctions"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a scheduled call ended: ``succeeded`` or ``failed`` (with a short reason)."""

    status: str
    error: str | None = None


class ScheduledFunctions(Protocol):
    """The functions a schedule may run."""

    def check(self, name: str, payload: Any) -> None:
        """Raise ``ValidationError`` (naming ``function_name`` or ``payload``) unless
        ``name`` is a function and ``payload`` fits its input type."""
        ...

    async def call(
        self, name: str, payload: Any, *, trigger_id: uuid.UUID, principal: Principal
    ) -> RunOutcome:
        """Call ``name`` as ``principal`` for the schedule ``trigger_id``; never raises for
        a failure of the function itself (that is the outcome)."""
        ...


class InstanceFunctions:
    """:class:`ScheduledFunctions` over an instance's function registry and runner.

    A call is ``FunctionRunner.call(spec, payload, principal=..., trigger_type="schedule",
    trigger_id=...)``: it writes the ``_function_call`` record and fires the hooks.

    Args:
        registry: the instance's functions by name (``AppState.functions.registry``).
        runner: the instance's runner (``AppState.functions.runner``).
    """

    def __init__(self, registry: FunctionRegistry, runner: FunctionRunner) -> None:
        self._registry = registry
        self._runner = runner

    def check(self, name: str, payload: Any) -> None:
        try:
            spec = self._registry.get(name)
        except NotFoundError:
            raise ValidationError.for_field("function_name", f"unknown function {name!r}") from None
        try:
            self._runner.validate(spec, payload)
        except ValidationError as exc:
            raise ValidationError(_under_payload(exc.detail)) from None

    async def call(
        self, name: str, payload: Any, *, trigger_id: uuid.UUID, principal: Principal
    ) -> RunOutcome:
        spec = self._registry.get(name)
        try:
            await self._runner.call(
                spec,
                payload,
                principal=principal,
                trigger_type="schedule",
                trigger_id=trigger_id,
            )
        except FunctionCallFailed as exc:
            return RunOutcome("failed", f"{exc.error_type}: {exc.detail}")
        except TinyBaseError as exc:  # refused before it ran: auth level, payload
            return RunOutcome("failed", f"{type(exc).__name__}: {exc.detail}")
        return RunOutcome("succeeded")


def _under_payload(detail: Any) -> Any:
    """The runner's field errors (``["body", ...]``) as errors of the schedule's payload."""
    if not isinstance(detail, list):
        return [{"loc": ["body", "payload"], "msg": str(detail), "type": "value_error"}]
    return [{**error, "loc": ["body", "payload", *error["loc"][1:]]} for error in detail]
