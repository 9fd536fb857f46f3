"""``Context``: what a function receives besides its payload (the seed's fields)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

if TYPE_CHECKING:
    # Type-only: services never import the web framework at run time (test_architecture).
    from starlette.requests import Request
else:
    Request = Any

__all__ = ["Context", "TriggerType"]

TriggerType = Literal["manual", "schedule"]


class Context(BaseModel):
    """The execution context passed to every function.

    Attributes:
        function_name: the function being run.
        trigger_type: ``"manual"`` (an HTTP call) or ``"schedule"``.
        trigger_id: the schedule's id for scheduled runs, else None.
        request_id: this call's id (the id of its ``FunctionCall`` record).
        user_id: the caller's id, None for anonymous and scheduled calls.
        is_admin: whether the caller is an admin.
        now: when the call started (UTC).
        db: a session on the instance's database. Writes through
            ``CollectionService(ctx.db)`` commit when the function returns and roll back
            when it raises (see docs/functions.md); ``select(...)`` sees them at once.
        request: the HTTP request (Starlette's ``Request``), None for scheduled runs.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    function_name: str
    trigger_type: TriggerType
    trigger_id: UUID | None
    request_id: UUID
    user_id: UUID | None
    is_admin: bool
    now: datetime
    db: Session
    request: Request | None
