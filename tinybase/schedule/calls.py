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

__all__ = ["RunOutcome", "ScheduledFunctions"]


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
