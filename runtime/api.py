"""The REST API under ``/api/v1``: workflows, versions, runs; start, resume, cancel, retry.

A FastAPI app, served by the studio on its own port (Reflex's ``api_transformer``). Its
OpenAPI schema is at ``/api/v1/openapi.json`` and the interactive docs at ``/api/v1/docs``
load their scripts from this server, never from the internet.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable
from typing import Any

import fastapi
from fastapi import Query, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from runtime import catalog, codecs
from runtime.client import Client, Run, default_client
from runtime.errors import CodecError, InputError, NotFound, PayloadError, RunStateError
from runtime.store import tables

PREFIX = "/api/v1"
MAX_ROWS = 100
"""Rows of a DataFrame value included in a JSON answer."""


# -- response and request bodies -------------------------------------------------------------


class WorkflowOut(BaseModel):
    name: str
    description: str
    versions: int
    latest_version: str
    node_count: int
    updated_at: dt.datetime
    last_run_id: str | None
    last_run_status: str | None
    last_run_at: dt.datetime | None
    runs_last_day: int


class VersionOut(BaseModel):
    version: str
    created_at: dt.datetime
    node_count: int
    runs: int


class VersionDetail(BaseModel):
    workflow: str
    version: str
    created_at: dt.datetime
    spec: dict[str, Any] = Field(description="Nodes, edges, run inputs and outputs.")


class RunOut(BaseModel):
    id: str
    workflow: str
    version: str
    status: str
    trigger: str
    owner: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None


class RunPage(BaseModel):
    runs: list[RunOut]
    total: int
    limit: int
    offset: int


class NodeOut(BaseModel):
    name: str
    kind: str
    status: str
    attempts: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error_type: str | None
    error: str | None


class RunDetail(RunOut):
    nodes: list[NodeOut]
    waiting: dict[str, dict[str, Any]] = Field(
        description="Wait nodes now waiting -> JSON schema of the payload they expect."
    )
    inputs: dict[str, Any]
    outputs: dict[str, Any] = Field(description="Values of the final nodes that succeeded.")


class StartRun(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict)
    version: str | None = Field(None, description="Version hash (or prefix); default: latest.")
    owner: str | None = None


class Resume(BaseModel):
    node: str
    payload: dict[str, Any] = Field(default_factory=dict)
    answered_by: str | None = None


class CancelOut(BaseModel):
    id: str
    status: str


class EventOut(BaseModel):
    seq: int
    type: str
    node: str | None
    data: dict[str, Any]
    at: float


# -- conversion ------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A JSON-ready form of a stored value: DataFrames as shape + first rows, models dumped,
    bytes and pictures as their size, plotly figures as their JSON, anything else unknown as
    its repr."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.Series):
        value = value.to_frame()
    if pd is not None and isinstance(value, pd.DataFrame):
        head = value.head(MAX_ROWS)
        return {
            "type": "DataFrame",
            "shape": list(value.shape),
            "columns": [str(c) for c in value.columns],
            "rows": json.loads(head.to_json(orient="values", date_format="iso")),
        }
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes | bytearray):
        return {"type": "bytes", "size": len(value)}
    if isinstance(value, codecs.Picture):
        return {"type": "picture", "mime": value.mime, "size": len(value.data)}
    if codecs.PlotlyCodec().accepts(value):
        return {"type": "plotly", "figure": codecs.PlotlyCodec.outline(value)}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        if isinstance(value, dict):
            return {str(k): jsonable(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [jsonable(v) for v in value]
        return repr(value)


def run_out(row: catalog.RunRow) -> RunOut:
    return RunOut.model_validate(row, from_attributes=True)


def _summary(record: tables.Run, version: tables.WorkflowVersion) -> dict[str, Any]:
    """A stored run's ``RunOut`` fields (and more, which the models ignore)."""
    return {**record.model_dump(), "workflow": version.spec["name"], "version": version.version}


def run_detail(run: Run) -> RunDetail:
    record = run.record
    version = run.client.store.get_version(record.version_id)
    nodes = [NodeOut.model_validate(info, from_attributes=True) for info in run.nodes.values()]
    return RunDetail.model_validate(
        {
            **_summary(record, version),
            "nodes": nodes,
            "waiting": run.waiting,
            "inputs": {k: jsonable(v) for k, v in run.inputs.items()},
            "outputs": {k: jsonable(v) for k, v in run.outputs.items()},
        }
    )


# -- the app ---------------------------------------------------------------------------------


def create_api(client: Callable[[], Client] = default_client) -> fastapi.FastAPI:
    """The API app. ``client`` gives the connection to use (looked up per request, so a
    forked server process makes its own)."""
    api = FastAPIOffline(
        title="Plait API",
        version="1",
        description="Workflows, versions and runs of a Plait store.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        static_url=f"{PREFIX}/docs-assets",
        # no calls to validator.swagger.io: the docs stay offline
        swagger_ui_parameters={"validatorUrl": None},
    )
    _errors(api)
    router = fastapi.APIRouter(prefix=PREFIX)

    @router.get("/workflows", response_model=list[WorkflowOut], tags=["workflows"])
    def list_workflows(
        search: str = Query("", description="Words the name or description must contain."),
    ) -> list[WorkflowOut]:
        found = catalog.search(catalog.workflows(client().store), search)
        return [WorkflowOut(**_fields(s, WorkflowOut)) for s in found]

    @router.get("/workflows/{name}/versions", response_model=list[VersionOut], tags=["workflows"])
    def list_versions(name: str) -> list[VersionOut]:
        return [
            VersionOut(**_fields(v, VersionOut)) for v in catalog.versions(client().store, name)
        ]

    @router.get("/workflows/{name}", response_model=VersionDetail, tags=["workflows"])
    def get_workflow(name: str) -> VersionDetail:
        """The workflow's latest version."""
        return _version_detail(name, catalog.version(client().store, name))

    @router.get(
        "/workflows/{name}/versions/{version}", response_model=VersionDetail, tags=["workflows"]
    )
    def get_version(name: str, version: str) -> VersionDetail:
        return _version_detail(name, catalog.version(client().store, name, version))

    @router.post(
        "/workflows/{name}/runs",
        response_model=RunOut,
        status_code=status.HTTP_201_CREATED,
        tags=["runs"],
    )
    def start_run(name: str, body: StartRun) -> RunOut:
        """Start a run of the workflow (its latest version unless ``version`` is given)."""
        c = client()
        version = catalog.version(c.store, name, body.version)
        run = c.start_version(version.id, body.inputs, trigger="api", owner=body.owner)  # type: ignore[arg-type]
        return _run_summary(c, run.id)

    @router.get("/runs", response_model=RunPage, tags=["runs"])
    def list_runs(
        workflow: str | None = None,
        status: str | None = Query(None, description="One of " + ", ".join(catalog.RUN_STATUSES)),
        trigger: str | None = None,
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> RunPage:
        """Runs, newest first."""
        rows, total = catalog.runs(
            client().store,
            workflow=workflow,
            status=status,
            trigger=trigger,
            limit=limit,
            offset=offset,
        )
        return RunPage(runs=[run_out(r) for r in rows], total=total, limit=limit, offset=offset)

    @router.get("/runs/{run_id}", response_model=RunDetail, tags=["runs"])
    def get_run(run_id: str) -> RunDetail:
        return run_detail(client().get_run(run_id))

    @router.get("/runs/{run_id}/events", response_model=list[EventOut], tags=["runs"])
    def run_events(run_id: str, after: int = Query(0, ge=0)) -> list[EventOut]:
        """The run's events after ``after``, in order."""
        c = client()
        c.store.get_run(run_id)
        return [EventOut.model_validate(e) for e in c.store.events(run_id, after)]

    @router.post("/runs/{run_id}/resume", response_model=RunOut, tags=["runs"])
    def resume(run_id: str, body: Resume) -> RunOut:
        """Answer a waiting node; an invalid payload is refused (422) and the run keeps
        waiting."""
        c = client()
        c.resume(run_id, body.node, body.payload, answered_by=body.answered_by or "api")
        return _run_summary(c, run_id)

    @router.post("/runs/{run_id}/cancel", response_model=CancelOut, tags=["runs"])
    def cancel(run_id: str) -> CancelOut:
        return CancelOut(id=run_id, status=client().cancel(run_id))

    @router.post(
        "/runs/{run_id}/retry",
        response_model=RunOut,
        status_code=status.HTTP_201_CREATED,
        tags=["runs"],
    )
    def retry(run_id: str) -> RunOut:
        """Start a new run of the same version with the same inputs."""
        c = client()
        old = c.get_run(run_id)
        record = old.record
        new = c.start_version(record.version_id, old.inputs, trigger="api", owner=record.owner)
        return _run_summary(c, new.id)

    @router.get("/runs/{run_id}/report", response_class=HTMLResponse, tags=["runs"])
    def report(run_id: str) -> HTMLResponse:
        """The run's self-contained HTML report."""
        return HTMLResponse(client().get_run(run_id).report())

    def _run_summary(c: Client, run_id: str) -> RunOut:
        record = c.store.get_run(run_id)
        return RunOut.model_validate(_summary(record, c.store.get_version(record.version_id)))

    def _version_detail(name: str, version: Any) -> VersionDetail:
        return VersionDetail(
            workflow=name, version=version.version, created_at=version.created_at, spec=version.spec
        )

    api.include_router(router)
    return api


def _fields(obj: Any, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in model.model_fields}


def _errors(api: fastapi.FastAPI) -> None:
    """Plait's errors as HTTP answers whose ``detail`` says what is wrong."""

    def handler(code: int) -> Callable[[Any, Exception], Any]:
        async def respond(_request: Any, exc: Exception) -> JSONResponse:
            body: dict[str, Any] = {"detail": str(exc)}
            if isinstance(exc, PayloadError):
                body["errors"] = [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                    for e in exc.errors
                ]
            return JSONResponse(body, status_code=code)

        return respond

    api.add_exception_handler(NotFound, handler(404))
    api.add_exception_handler(InputError, handler(422))
    api.add_exception_handler(PayloadError, handler(422))
    api.add_exception_handler(CodecError, handler(422))
    api.add_exception_handler(RunStateError, handler(409))
