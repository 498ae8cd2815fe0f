"""The REST API's schedules: list, create, show (with the next fire times and recent fires),
pause, resume, delete. Reading takes the viewer role, changing the editor role; a key limited
to some workflows reaches only their schedules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import fastapi
from fastapi import Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from runtime import schedules
from runtime.api import JsonObject, Text, WorkflowName
from runtime.api_auth import note
from runtime.api_errors import responses
from runtime.auth.roles import Principal, require_workflow
from runtime.store.tables import FireOutcome, Overlap, Schedule

if TYPE_CHECKING:
    from runtime.client import Client

ScheduleId = Annotated[int, Path(description="The schedule's id.", ge=1, le=2**31 - 1)]


class FireOut(BaseModel):
    fire_at: dt.datetime
    outcome: FireOutcome
    run_id: str | None
    error: str | None = Field(None, description="Why a `failed` fire started no run.")
    fired_at: dt.datetime = Field(description="When a scheduler handled it.")


class ScheduleOut(BaseModel):
    id: int
    workflow: str
    cron: str
    tz: str = Field(description="IANA time zone the cron expression is read in.")
    inputs: dict[str, Any]
    version: str | None = Field(description="The version it starts; null: the latest.")
    overlap: Overlap
    catchup: int
    paused: bool
    declared_in_code: bool = Field(description="Declared with `@g.schedule`.")
    created_at: dt.datetime
    created_by: str | None
    last_fire_at: dt.datetime | None
    next_fires: list[dt.datetime] = Field(description="The next fire times (UTC); none if paused.")


class ScheduleDetail(ScheduleOut):
    recent_fires: list[FireOut] = Field(description="The latest fire times, latest first.")


class ScheduleIn(BaseModel):
    """The schedule records who made it: the caller's user or key."""

    model_config = ConfigDict(extra="forbid")

    cron: Text = Field(max_length=200, description='Five cron fields, e.g. "0 9 * * MON-FRI".')
    tz: Text = Field("UTC", max_length=64, description="IANA time zone, e.g. Europe/Berlin.")
    inputs: JsonObject = Field(default_factory=dict, description="Run inputs by name.")
    version: Annotated[Text, Field(max_length=64)] | None = Field(
        None, description="Version hash (or prefix) to start; default: the latest at each fire."
    )
    overlap: Overlap = Field("skip", description="While the previous run is unfinished.")
    catchup: int = Field(1, ge=0, le=1000, description="Missed fires started after downtime.")


def schedule_out(schedule: Schedule, workflow: str, count: int = 10) -> dict[str, Any]:
    assert schedule.id is not None
    return {
        "id": schedule.id,
        "workflow": workflow,
        "cron": schedule.cron,
        "tz": schedule.tz,
        "inputs": schedule.inputs,
        "version": schedule.version,
        "overlap": schedule.overlap,
        "catchup": schedule.catchup,
        "paused": schedule.paused,
        "declared_in_code": schedule.key is not None,
        "created_at": schedule.created_at,
        "created_by": schedule.created_by,
        "last_fire_at": schedule.last_fire_at,
        "next_fires": [] if schedule.paused else schedules.next_fires(schedule, count),
    }


def schedules_router(
    prefix: str, client: Callable[[], Client], reader: Any, writer: Any
) -> fastapi.APIRouter:
    router = fastapi.APIRouter(prefix=prefix, responses=responses(401, 403, 422))

    def reach(who: Principal, c: Client, schedule_id: int) -> tuple[Schedule, str]:
        schedule, workflow = c.store.get_schedule(schedule_id)
        require_workflow(who, workflow)
        return schedule, workflow

    def detail(c: Client, schedule: Schedule, workflow: str) -> ScheduleDetail:
        assert schedule.id is not None
        fires = [
            FireOut.model_validate(f, from_attributes=True)
            for f in c.store.schedule_fires(schedule.id, 20)
        ]
        return ScheduleDetail(**schedule_out(schedule, workflow), recent_fires=fires)

    @router.get("/schedules", response_model=list[ScheduleOut], tags=["schedules"])
    def list_schedules(
        *,
        who: Principal = reader,
        workflow: Annotated[Text | None, Query(description="Only this workflow's.")] = None,
    ) -> list[ScheduleOut]:
        """Schedules by id, each with its next fire times."""
        if workflow is not None:
            require_workflow(who, workflow)
        return [
            ScheduleOut(**schedule_out(s, name))
            for s, name in client().store.schedules(workflow)
            if who.reaches(name)
        ]

    @router.post(
        "/workflows/{name}/schedules",
        response_model=ScheduleDetail,
        status_code=status.HTTP_201_CREATED,
        tags=["schedules"],
        responses=responses(400, 404, 413),
    )
    def create_schedule(
        *,
        name: WorkflowName,
        body: ScheduleIn,
        request: Request,
        response: fastapi.Response,
        who: Principal = writer,
    ) -> ScheduleDetail:
        """Schedule runs of the workflow. A bad cron, time zone or input is refused (422,
        nothing stored)."""
        require_workflow(who, name)
        c = client()
        schedule, workflow = schedules.create(
            c,
            name,
            body.cron,
            tz=body.tz,
            inputs=body.inputs,
            version=body.version,
            overlap=body.overlap,
            catchup=body.catchup,
            created_by=who.actor,
        )
        note(request, "schedule.create", f"schedule:{schedule.id}", workflow=workflow)
        response.headers["Location"] = f"{prefix}/schedules/{schedule.id}"
        return detail(c, schedule, workflow)

    @router.get(
        "/schedules/{schedule_id}",
        response_model=ScheduleDetail,
        tags=["schedules"],
        responses=responses(404),
    )
    def get_schedule(*, schedule_id: ScheduleId, who: Principal = reader) -> ScheduleDetail:
        """A schedule with its next ten fire times and its latest fires."""
        c = client()
        return detail(c, *reach(who, c, schedule_id))

    def _pause(request: Request, who: Principal, schedule_id: int, paused: bool) -> ScheduleDetail:
        c = client()
        _, workflow = reach(who, c, schedule_id)
        schedule = c.store.set_schedule_paused(schedule_id, paused)
        action = "pause" if paused else "resume"
        note(request, f"schedule.{action}", f"schedule:{schedule_id}")
        return detail(c, schedule, workflow)

    @router.post(
        "/schedules/{schedule_id}/pause",
        response_model=ScheduleDetail,
        tags=["schedules"],
        responses=responses(404),
    )
    def pause(*, schedule_id: ScheduleId, request: Request, who: Principal = writer) -> Any:
        """Stop firing until resumed."""
        return _pause(request, who, schedule_id, True)

    @router.post(
        "/schedules/{schedule_id}/resume",
        response_model=ScheduleDetail,
        tags=["schedules"],
        responses=responses(404),
    )
    def resume(*, schedule_id: ScheduleId, request: Request, who: Principal = writer) -> Any:
        """Fire again from now on (fires missed while paused are not started)."""
        return _pause(request, who, schedule_id, False)

    @router.delete(
        "/schedules/{schedule_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["schedules"],
        responses=responses(404),
    )
    def delete(*, schedule_id: ScheduleId, request: Request, who: Principal = writer) -> None:
        """Delete the schedule; the runs it started stay."""
        c = client()
        reach(who, c, schedule_id)
        c.store.delete_schedule(schedule_id)
        note(request, "schedule.delete", f"schedule:{schedule_id}")

    return router
