"""Routes under /api/admin/schedules (admins only).

    GET    /api/admin/schedules             ?limit&cursor -> {schedules, cursor}
    POST   /api/admin/schedules             {function_name, schedule, payload?, enabled?,
                                             run_as?} -> 201 the schedule
    GET    /api/admin/schedules/{id}        the schedule, with ``next_runs``
    PATCH  /api/admin/schedules/{id}        any of the fields above -> the schedule
    DELETE /api/admin/schedules/{id}        -> 204
    POST   /api/admin/schedules/{id}/run    run it now -> 202 {run_id, schedule_id}
    GET    /api/admin/schedules/{id}/runs   ?limit -> {runs}, newest first

A schedule is shown with its next few run times (``next_runs``, UTC). Invalid schedules,
unknown functions, payloads that do not fit the function and unknown ``run_as`` users are
422s naming the field.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import ConfigDict

from tinybase.api.bodies import RequestBody
from tinybase.api.deps import AdminUser, State
from tinybase.errors import NotFoundError
from tinybase.schedule import Scheduler, ScheduleService

router = APIRouter(prefix="/api/admin/schedules", tags=["schedules"])


class NewSchedule(RequestBody):
    model_config = ConfigDict(extra="forbid")

    function_name: str
    schedule: dict[str, Any]
    payload: dict[str, Any] = {}
    enabled: bool = True
    run_as: str | None = None


class ScheduleChanges(RequestBody):
    model_config = ConfigDict(extra="forbid")

    function_name: str | None = None
    schedule: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    enabled: bool | None = None
    run_as: str | None = None


async def get_service(state: State, _admin: AdminUser) -> ScheduleService:
    assert state.schedules is not None  # built with the app
    return state.schedules


async def get_scheduler(state: State, _admin: AdminUser) -> Scheduler:
    assert state.scheduler is not None
    return state.scheduler


Service = Annotated[ScheduleService, Depends(get_service)]
Runner = Annotated[Scheduler, Depends(get_scheduler)]


@router.get("")
def list_schedules(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of schedules, oldest first; pass ``cursor`` back for the next page."""
    page = service.list(limit=limit, cursor=cursor)
    return {"schedules": page.schedules, "cursor": page.cursor}


@router.post("", status_code=201)
def create_schedule(body: NewSchedule, service: Service) -> dict[str, Any]:
    """Add a schedule; its first run is computed from now."""
    return service.create(**body.model_dump())


@router.get("/{schedule_id}")
def read_schedule(schedule_id: str, service: Service) -> dict[str, Any]:
    return service.get(schedule_id)


@router.patch("/{schedule_id}")
def update_schedule(schedule_id: str, body: ScheduleChanges, service: Service) -> dict[str, Any]:
    """Change what is given (``run_as: null`` runs it as the system again)."""
    return service.update(schedule_id, **body.model_dump(exclude_unset=True))


@router.delete("/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: str, service: Service) -> Response:
    service.delete(schedule_id)
    return Response(status_code=204)


@router.post("/{schedule_id}/run", status_code=202)
async def run_schedule(schedule_id: str, scheduler: Runner) -> dict[str, Any]:
    """Run it now (recorded like any run); answers once the run is claimed and started."""
    try:
        key = uuid.UUID(schedule_id)
    except ValueError:
        raise NotFoundError("Schedule not found") from None
    run_id = await scheduler.run_now(key)
    if run_id is None:
        raise NotFoundError("Schedule not found")
    return {"run_id": run_id, "schedule_id": key}


@router.get("/{schedule_id}/runs")
def list_runs(
    schedule_id: str, service: Service, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> dict[str, Any]:
    """The schedule's latest runs, newest first, each with its slot, attempt and outcome."""
    return {"runs": service.runs(schedule_id, limit=limit)}
