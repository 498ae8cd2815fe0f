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
from typing import Annotated, Any, Literal

import fastapi
from fastapi import Path, Query, status
from fastapi.responses import HTMLResponse
from fastapi_offline import FastAPIOffline
from pydantic import AfterValidator, BaseModel, Field

from runtime import catalog, codecs, redaction
from runtime.api_errors import error_handlers, responses
from runtime.body_limit import RequestBodyLimit
from runtime.client import Client, Run, default_client
from runtime.config import settings
from runtime.redaction import Redactor
from runtime.store import tables

PREFIX = "/api/v1"
MAX_ROWS = 100
"""Rows of a DataFrame value included in a JSON answer."""
MAX_TEXT = 100_000
"""Characters of a node's error, traceback or logs in a JSON answer (start and end kept)."""
MAX_NAME = 200
"""Characters of a name a request gives (a node, who answered, who started)."""

MAX_INT = 2**31 - 1
"""The largest integer a request may give (PostgreSQL's ``integer``): larger ones are a 422,
never a database error."""
MAX_DEPTH = 64
"""How deeply a JSON value in a request body may nest."""


# -- request types: text the database can store ----------------------------------------------


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL (0x00) characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate)"
    return None


def _clean_text(text: str) -> str:
    problem = _text_problem(text)
    if problem:
        raise ValueError(f"text {problem}")
    return text


def _json_problem(value: Any, where: str, depth: int = 0) -> str | None:
    """The first part of a JSON value the store cannot keep, said with where it is."""
    if depth > MAX_DEPTH:
        return f"{where or 'the value'} nests deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        problem = _text_problem(value)
        return f"{where or 'the value'}: text {problem}" if problem else None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where or 'the value'}: {value} is not a JSON number"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _text_problem(key)
            if problem:
                return f"{where or 'the value'}: key {key!r} {problem}"
            found = _json_problem(item, f"{where}[{key!r}]", depth + 1)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _json_problem(item, f"{where}[{i}]", depth + 1)
            if found:
                return found
    return None


def _clean_json(value: dict[str, Any]) -> dict[str, Any]:
    problem = _json_problem(value, "")
    if problem:
        raise ValueError(problem)
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
"""A string without NUL characters or lone surrogates (PostgreSQL refuses both)."""
JsonObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]
"""A JSON object whose texts are ``Text`` and whose numbers are finite, nesting at most
``MAX_DEPTH`` levels."""
Name = Annotated[Text, Field(min_length=1, max_length=MAX_NAME)]
WorkflowName = Annotated[Text, Path(description="The workflow's name.")]
RunId = Annotated[Text, Path(description="The run's id.")]
RunStatus = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]


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
    """A run; ``error`` says why it failed (redacted)."""

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
    """A node's latest attempt; ``error``, ``traceback`` and ``logs`` are redacted and keep
    the start and end of a text past 100,000 characters."""

    name: str
    kind: str
    status: str
    attempts: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error_type: str | None
    error: str | None
    traceback: str | None
    logs: str | None


class RunDetail(RunOut):
    nodes: list[NodeOut]
    waiting: dict[str, dict[str, Any]] = Field(
        description="Wait nodes now waiting -> JSON schema of the payload they expect."
    )
    inputs: dict[str, Any]
    outputs: dict[str, Any] = Field(description="Values of the final nodes that succeeded.")


class StartRun(BaseModel):
    inputs: JsonObject = Field(default_factory=dict, description="Run inputs by name.")
    version: Annotated[Text, Field(max_length=64)] | None = Field(
        None, description="Version hash (or prefix); default: latest."
    )
    owner: Name | None = None


class Resume(BaseModel):
    node: Name = Field(description="The waiting node to answer.")
    payload: JsonObject = Field(
        default_factory=dict,
        description="The answer, validated strictly against the node's schema (no "
        '"yes" for a boolean, no "3" for a number; dates as ISO strings).',
    )
    answered_by: Name | None = None


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
    out = RunOut.model_validate(row, from_attributes=True)
    out.error = redaction.DEFAULT.text(out.error or "") or None
    return out


def _summary(
    record: tables.Run, version: tables.WorkflowVersion, shown: Redactor = redaction.DEFAULT
) -> dict[str, Any]:
    """A stored run's ``RunOut`` fields (and more, which the models ignore)."""
    fields = {**record.model_dump(), "workflow": version.spec["name"], "version": version.version}
    fields["error"] = shown.text(record.error or "") or None
    return fields


def run_detail(run: Run) -> RunDetail:
    """Everything about a run, as the run's redactor lets it be shown."""
    record = run.record
    version = run.client.store.get_version(record.version_id)
    shown = redaction.for_run(run)
    nodes = [
        NodeOut(
            name=info.name,
            kind=info.kind,
            status=info.status,
            attempts=info.attempts,
            started_at=info.started_at,
            ended_at=info.ended_at,
            error_type=info.error_type,
            error=_excerpt(shown, info.error),
            traceback=_excerpt(shown, info.traceback),
            logs=_excerpt(shown, info.logs),
        )
        for info in run.nodes.values()
    ]
    return RunDetail.model_validate(
        {
            **_summary(record, version, shown),
            "nodes": nodes,
            "waiting": {node: shown.schema(s) for node, s in run.waiting.items()},
            "inputs": {k: jsonable(v) for k, v in shown.value(run.inputs).items()},
            "outputs": {k: jsonable(v) for k, v in shown.value(run.outputs).items()},
        }
    )


def _excerpt(shown: Redactor, text: str | None) -> str | None:
    return None if text is None else shown.excerpt(text, MAX_TEXT)


# -- the app ---------------------------------------------------------------------------------


def create_api(
    client: Callable[[], Client] = default_client, *, max_request_bytes: int | None = None
) -> fastapi.FastAPI:
    """The API app. ``client`` gives the connection to use (looked up per request, so a
    forked server process makes its own). Request bodies past ``max_request_bytes``
    (default ``PLAIT_MAX_REQUEST_BYTES``) are refused with 413 before they are read; every
    error answer is an ``ErrorOut``."""
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
        exception_handlers=error_handlers(),
    )
    limit = settings().max_request_bytes if max_request_bytes is None else max_request_bytes
    api.add_middleware(RequestBodyLimit, max_bytes=limit)
    router = fastapi.APIRouter(prefix=PREFIX, responses=responses(422))

    @router.get("/workflows", response_model=list[WorkflowOut], tags=["workflows"])
    def list_workflows(
        search: Annotated[
            Text, Query(max_length=1000, description="Words the name or description must contain.")
        ] = "",
    ) -> list[WorkflowOut]:
        found = catalog.search(catalog.workflows(client().store), search)
        return [WorkflowOut(**_fields(s, WorkflowOut)) for s in found]

    @router.get(
        "/workflows/{name}/versions",
        response_model=list[VersionOut],
        tags=["workflows"],
        responses=responses(404),
    )
    def list_versions(name: WorkflowName) -> list[VersionOut]:
        return [
            VersionOut(**_fields(v, VersionOut)) for v in catalog.versions(client().store, name)
        ]

    @router.get(
        "/workflows/{name}",
        response_model=VersionDetail,
        tags=["workflows"],
        responses=responses(404),
    )
    def get_workflow(name: WorkflowName) -> VersionDetail:
        """The workflow's latest version."""
        return _version_detail(name, catalog.version(client().store, name))

    @router.get(
        "/workflows/{name}/versions/{version}",
        response_model=VersionDetail,
        tags=["workflows"],
        responses=responses(404),
    )
    def get_version(
        name: WorkflowName,
        version: Annotated[Text, Path(description="A version hash or a unique prefix of one.")],
    ) -> VersionDetail:
        return _version_detail(name, catalog.version(client().store, name, version))

    @router.post(
        "/workflows/{name}/runs",
        response_model=RunOut,
        status_code=status.HTTP_201_CREATED,
        tags=["runs"],
        responses=responses(400, 404, 413),
    )
    def start_run(name: WorkflowName, body: StartRun, response: fastapi.Response) -> RunOut:
        """Start a run of the workflow (its latest version unless ``version`` is given)."""
        c = client()
        version = catalog.version(c.store, name, body.version)
        run = c.start_version(version.id, body.inputs, trigger="api", owner=body.owner)  # type: ignore[arg-type]
        response.headers["Location"] = f"{PREFIX}/runs/{run.id}"
        return _run_summary(c, run.id)

    @router.get("/runs", response_model=RunPage, tags=["runs"])
    def list_runs(
        workflow: Annotated[Text | None, Query(description="Only this workflow's runs.")] = None,
        status: Annotated[RunStatus | None, Query(description="Only runs in this status.")] = None,
        trigger: Annotated[Text | None, Query(description="Only runs started this way.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
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

    @router.get("/runs/{run_id}", response_model=RunDetail, tags=["runs"], responses=responses(404))
    def get_run(run_id: RunId) -> RunDetail:
        """A run with its nodes, inputs and outputs (redacted: see the README)."""
        return run_detail(client().get_run(run_id))

    @router.get(
        "/runs/{run_id}/events",
        response_model=list[EventOut],
        tags=["runs"],
        responses=responses(404),
    )
    def run_events(
        run_id: RunId,
        after: Annotated[int, Query(ge=0, le=MAX_INT, description="The last seq seen.")] = 0,
    ) -> list[EventOut]:
        """The run's events after ``after``, in order (their data redacted)."""
        c = client()
        shown = redaction.for_run(c.get_run(run_id))
        return [
            EventOut.model_validate({**e, "data": shown.value(e["data"])})
            for e in c.store.events(run_id, after)
        ]

    @router.post(
        "/runs/{run_id}/resume",
        response_model=RunOut,
        tags=["runs"],
        responses=responses(400, 404, 409, 413),
    )
    def resume(run_id: RunId, body: Resume) -> RunOut:
        """Answer a waiting node; an invalid payload is refused (422, each error under its
        field) and the run keeps waiting."""
        c = client()
        c.resume(run_id, body.node, body.payload, answered_by=body.answered_by or "api")
        return _run_summary(c, run_id)

    @router.post(
        "/runs/{run_id}/cancel", response_model=CancelOut, tags=["runs"], responses=responses(404)
    )
    def cancel(run_id: RunId) -> CancelOut:
        """Cancel the run; a finished run stays as it is (its status is returned)."""
        return CancelOut(id=run_id, status=client().cancel(run_id))

    @router.post(
        "/runs/{run_id}/retry",
        response_model=RunOut,
        status_code=status.HTTP_201_CREATED,
        tags=["runs"],
        responses=responses(404, 409),
    )
    def retry(run_id: RunId, response: fastapi.Response) -> RunOut:
        """Start a new run of the same version with the same inputs."""
        c = client()
        old = c.get_run(run_id)
        record = old.record
        new = c.start_version(record.version_id, old.inputs, trigger="api", owner=record.owner)
        response.headers["Location"] = f"{PREFIX}/runs/{new.id}"
        return _run_summary(c, new.id)

    @router.get(
        "/runs/{run_id}/report",
        # a media-less class: errors stay documented as JSON, the page as HTML
        response_class=fastapi.Response,
        tags=["runs"],
        responses={
            200: {
                "description": "The report page.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            **responses(404),
        },
    )
    def report(run_id: RunId) -> HTMLResponse:
        """The run's self-contained HTML report."""
        return HTMLResponse(client().get_run(run_id).report())

    def _run_summary(c: Client, run_id: str) -> RunOut:
        record = c.store.get_run(run_id)
        return RunOut.model_validate(_summary(record, c.store.get_version(record.version_id)))

    def _version_detail(name: str, version: Any) -> VersionDetail:
        return VersionDetail(
            workflow=name,
            version=version.version,
            created_at=version.created_at,
            spec=redaction.DEFAULT.spec(version.spec),
        )

    api.include_router(router)
    return api


def _fields(obj: Any, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in model.model_fields}
