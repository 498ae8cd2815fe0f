"""The REST API under ``/api/v1``: workflows, versions, runs; start, resume, cancel, retry,
rerun.

A FastAPI app, served by the studio on its own port (Reflex's ``api_transformer``). Its
OpenAPI schema is at ``/api/v1/openapi.json`` and the interactive docs at ``/api/v1/docs``
load their scripts from this server, never from the internet.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import math
import sys
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

import fastapi
import sqlalchemy as sa
from fastapi import Path, Query, Request, status
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi_offline import FastAPIOffline
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from runtime import catalog, codecs, codesign, nodes, redaction, sharing
from runtime.api_auth import AuditTrail, note, principal_dependency, role_dependency
from runtime.api_errors import error_handlers, responses
from runtime.auth.gate import Gate
from runtime.auth.ratelimit import RequestLimiter
from runtime.auth.roles import Principal, require_workflow
from runtime.body_limit import RequestBodyLimit
from runtime.client import Client, Run, default_client
from runtime.config import settings
from runtime.errors import CodecError, NotFound, RunStateError
from runtime.events import EventDict, afollow
from runtime.graph import SOURCE_CAP
from runtime.redaction import Redactor
from runtime.statuses import RunStatus
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
    current_version: str | None = Field(
        None, description="The version runs by name and unpinned triggers start."
    )
    archived: bool = False


PUBLISHER = Field(
    description="Who published it first: a user or key, or `cli:<os user>` for the SDK or "
    "CLI on the store's side; null for versions from before publishers were recorded."
)


class VersionOut(BaseModel):
    version: str
    created_at: dt.datetime
    created_by: str | None = PUBLISHER
    node_count: int
    runs: int
    message: str | None = Field(None, description="What its publisher said changed.")
    current: bool = Field(
        False, description="The version runs by name and unpinned triggers start."
    )


class VersionDetail(BaseModel):
    workflow: str
    version: str
    created_at: dt.datetime
    created_by: str | None = PUBLISHER
    spec: dict[str, Any] = Field(description="Nodes, edges, run inputs and outputs.")


class RunOut(BaseModel):
    """A run; ``error`` says why it failed (redacted)."""

    id: str
    workflow: str
    version: str
    status: str
    trigger: str
    owner: str | None = Field(description="Who started it: a user or a key.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None
    targets: list[str] | None = Field(
        None, description="The outputs the run was asked for; null: every node."
    )
    parent_run_id: str | None = Field(
        None, description="A child run: the run whose sub-graph node started it."
    )
    parent_node: str | None = Field(None, description="That sub-graph node of the parent.")
    wake_at: dt.datetime | None = Field(
        None,
        description="When a sleeping run (or one waiting on a wait with a timeout) is queued "
        "again.",
    )
    replay_of: str | None = Field(
        None, description="The run this one replays (its unchanged checkpoints reused)."
    )


class ReplayIn(BaseModel):
    """A replay of a finished run: what changed since it."""

    model_config = ConfigDict(extra="forbid")

    from_nodes: list[Name] = Field(
        default_factory=list,
        max_length=10_000,
        description="Nodes to run again (and everything downstream of them).",
    )
    inputs: JsonObject = Field(
        default_factory=dict, description="Run inputs to change, by name; the others stay."
    )
    overrides: JsonObject = Field(
        default_factory=dict,
        description="Node name -> the value taken as its output (what reads it runs again).",
    )
    version: Annotated[Text, Field(min_length=1, max_length=64)] = Field(
        "latest", description="latest (the workflow's latest version), source, or a hash."
    )


class ReplayPlanOut(BaseModel):
    """What a replay would do: each node reused or re-run, with the reason."""

    source: str
    version: str
    reused: dict[str, str] = Field(description="Node -> why its checkpoint is reused.")
    rerun: dict[str, str] = Field(
        description="Node -> why it runs again (named, changed input x, override, code "
        "changed, downstream of X, ...)."
    )
    spec: dict[str, Any] = Field(description="The spec of the version the replay runs.")


class RunPage(BaseModel):
    runs: list[RunOut]
    total: int = Field(
        description="How many runs match, counted up to 10,001: past 10,000, read it as "
        "'more than 10,000' (total_exact is false)."
    )
    total_exact: bool = Field(description="Whether total is the exact count.")
    limit: int
    offset: int
    next: str | None = Field(
        description="Give it as `after` for the next page (keyset pagination: as fast at any "
        "depth); null on the last page."
    )


class CachedFrom(BaseModel):
    """Where a cached node's output came from."""

    run_id: str
    attempt: int


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
    answered_by: str | None = Field(None, description="Who answered a wait node.")
    retry_at: dt.datetime | None = Field(
        None, description="When a retrying node's next attempt is due."
    )
    child_run: str | None = Field(None, description="A sub-graph node's child run, once started.")
    wake_at: dt.datetime | None = Field(
        None, description="When a sleeping node wakes, or a waiting one times out."
    )
    cached_from: CachedFrom | None = Field(
        None, description="A cached node: the attempt whose output it took."
    )


class RunDetail(RunOut):
    trigger_ref: str | None = Field(
        None, description="What started it: delivery:<id> (a webhook delivery), schedule:<id>."
    )
    start_at: dt.datetime | None = Field(None, description="A delayed run's start time.")
    nodes: list[NodeOut]
    waiting: dict[str, dict[str, Any]] = Field(
        description="Wait nodes now waiting -> JSON schema of the payload they expect."
    )
    inputs: dict[str, Any]
    outputs: dict[str, Any] = Field(
        description="Values of the requested outputs (else of the final nodes) that succeeded."
    )
    children: list[str] = Field(
        default_factory=list, description="Child runs its sub-graph nodes started."
    )


class RunDiffOut(BaseModel):
    """How run B differs from run A (``runtime.compare.RunDiff.to_dict``): values as the
    runs' redaction shows them."""

    a: str
    b: str
    summary: str
    workflow: list[str | None]
    version: list[str | None]
    status: list[str | None]
    duration: list[float | None]
    replay_of: list[str | None]
    inputs: dict[str, dict[str, Any]] = Field(description="Input name -> its value diff.")
    nodes: list[dict[str, Any]] = Field(
        description="Each node of either run: change (unchanged, changed, only_in_a, "
        "only_in_b), reasons, status, attempts, duration and the value diff."
    )


class StartRun(BaseModel):
    """The run records who started it: the caller's user or key."""

    model_config = ConfigDict(extra="forbid")

    inputs: JsonObject = Field(default_factory=dict, description="Run inputs by name.")
    version: Annotated[Text, Field(max_length=64)] | None = Field(
        None, description="Version hash (or prefix); default: latest."
    )
    outputs: list[Name] | None = Field(
        None,
        max_length=10_000,
        description="Run only these nodes and those they need (the others are not_needed); "
        "default: every node.",
    )
    start_at: dt.datetime | None = Field(
        None,
        description="A delayed run: stored `scheduled` and started at this time (with a "
        "zone offset, e.g. 2030-01-01T09:00:00+01:00); cancellable until then.",
    )
    priority: int = Field(
        0,
        ge=-1000,
        le=1000,
        description="Among queued runs of a workflow with max_concurrent_runs, higher first.",
    )


class LimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrent_runs: int | None = Field(
        ..., ge=1, le=MAX_INT, description="Runs running or waiting at once; null: no limit."
    )


class Resume(BaseModel):
    """The answer records who gave it: the caller's user or key."""

    model_config = ConfigDict(extra="forbid")

    node: Name = Field(description="The waiting node to answer.")
    payload: JsonObject = Field(
        default_factory=dict,
        description="The answer, validated strictly against the node's schema (no "
        '"yes" for a boolean, no "3" for a number; dates as ISO strings).',
    )


def _known_kind(kind: str) -> str:
    known = nodes.kinds()
    if kind not in known:
        raise ValueError(f"unknown node kind {kind!r} (known: {', '.join(sorted(known))})")
    return kind


class NodeSpec(BaseModel):
    """One node of a published spec (what ``Graph.spec()`` writes). Keys a node kind adds
    to its spec (``NodeKind.describe``) are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: Name
    kind: Annotated[Name, AfterValidator(_known_kind)]
    inputs: dict[Name, Name] = Field(default_factory=dict)
    after: list[Name] = Field(default_factory=list)
    depends_on: list[Name] = Field(default_factory=list)
    policies: JsonObject = Field(default_factory=dict)
    code: Annotated[Text, Field(max_length=1000)] | None = None
    doc: Annotated[Text, Field(max_length=100_000)] = ""
    schema_: JsonObject | None = Field(None, alias="schema")
    secrets: list[Name] | None = None


class GraphSpec(BaseModel):
    name: Name
    description: Annotated[Text, Field(max_length=100_000)] = ""
    nodes: list[NodeSpec] = Field(min_length=1)
    edges: list[list[Name]] = Field(default_factory=list)
    inputs: JsonObject = Field(default_factory=dict)
    outputs: list[Name] = Field(default_factory=list)


class Publish(BaseModel):
    """A version to store: the graph's spec and its code (cloudpickle, base64). The server
    signs the code with its signing key; it does not load it."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")]
    spec: GraphSpec
    code: Annotated[str, Field(max_length=50_000_000, pattern=r"^[A-Za-z0-9+/]*={0,2}$")]
    node_sources: dict[str, Annotated[str, Field(max_length=SOURCE_CAP)]] | None = Field(
        None,
        description="Node name -> the source text of the code it runs (``Graph.node_sources``), "
        "for people to read: shown and diffed, never run.",
    )


class NodeKindOut(BaseModel):
    """A node kind a graph can use (built in, or a plug-in of the ``plait.nodes`` entry point
    group installed where the API runs)."""

    name: str
    doc: str = Field(description="The first paragraph of its documentation.")
    options: dict[str, Any] = Field(
        description="JSON schema of its options (`{}` when it takes none): the builder's form."
    )
    parks: str | None = Field(
        None, description="`waiting` for a kind that stops its run for an answer."
    )


class PublishOut(BaseModel):
    workflow: str
    version: str
    created_at: dt.datetime
    created_by: str | None


class EncodedOut(BaseModel):
    """A stored value as the SDK decodes it (``runtime.codecs``; never a pickle), after the
    run's redaction."""

    codec: str
    data: str = Field(description="The encoded bytes, base64.")


class DocumentOut(BaseModel):
    name: str
    node: str
    kind: str
    saved_at: dt.datetime
    value: EncodedOut


class ElementOut(BaseModel):
    """One element of a map node: its latest attempt."""

    index: int
    status: str
    attempts: int
    duration: float | None
    """Seconds its latest attempt took (``None`` while it runs)."""
    error: str | None


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires: Annotated[Text, Field(max_length=20)] = Field(
        "", description="A lifetime such as 30m, 12h or 7d; empty or never: until revoked."
    )


class ShareOut(BaseModel):
    id: int
    run_id: str
    state: Literal["active", "revoked", "expired"]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_by: str | None
    path: str | None = Field(None, description="Only when created: /r/<token>, shown once.")


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
    if pd is not None and not hasattr(pd, "DataFrame"):
        pd = None  # another thread is importing it: no value can be one of its frames yet
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
    answers = {r.node: r.answered_by for r in run.client.store.attempts(run.id) if r.answered_by}
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
            answered_by=answers.get(info.name),
            retry_at=info.retry_at,
            child_run=info.child_run,
            wake_at=info.wake_at,
            cached_from=None
            if info.cached_from is None
            else CachedFrom(run_id=info.cached_from[0], attempt=info.cached_from[1]),
        )
        for info in run.nodes.values()
    ]
    return RunDetail.model_validate(
        {
            **_summary(record, version, shown),
            "trigger_ref": record.trigger_ref,
            "start_at": record.start_at,
            "nodes": nodes,
            "waiting": {node: shown.schema(s) for node, s in run.waiting.items()},
            "inputs": {k: jsonable(v) for k, v in shown.value(run.inputs).items()},
            "outputs": {k: jsonable(v) for k, v in shown.value(run.outputs).items()},
            "children": [n.child_run for n in nodes if n.child_run],
        }
    )


def _excerpt(shown: Redactor, text: str | None) -> str | None:
    return None if text is None else shown.excerpt(text, MAX_TEXT)


# -- the app ---------------------------------------------------------------------------------


def create_api(
    client: Callable[[], Client] = default_client,
    *,
    max_request_bytes: int | None = None,
    gate: Gate | None = None,
) -> fastapi.FastAPI:
    """The API app. ``client`` gives the connection to use (looked up per request, so a
    forked server process makes its own). Request bodies past ``max_request_bytes``
    (default ``PLAIT_MAX_REQUEST_BYTES``) are refused with 413 before they are read; every
    error answer is an ``ErrorOut``. ``gate`` decides who is asking (default: the
    settings' login rules over the client's store)."""
    api = FastAPIOffline(
        title="Plait API",
        version="1",
        description="Workflows, versions and runs of a Plait store. Every operation needs "
        "an API key (`Authorization: Bearer plait_<id>_<secret>`) whose role allows it: "
        "viewer (read), editor (publish, run, answer, cancel, share), admin (users, keys, "
        "secrets, audit). A studio on 127.0.0.1 without users answers as its local user.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        static_url=f"{PREFIX}/docs-assets",
        # no calls to validator.swagger.io: the docs stay offline
        swagger_ui_parameters={"validatorUrl": None},
        exception_handlers=error_handlers(),
    )
    config = settings()
    limit = config.max_request_bytes if max_request_bytes is None else max_request_bytes
    the_gate = gate or Gate(lambda: client().store, config)
    api.state.gate = the_gate
    api.add_middleware(AuditTrail, gate=lambda: the_gate, prefix=PREFIX)
    api.add_middleware(RequestBodyLimit, max_bytes=limit)
    limiter = RequestLimiter(redis_url=config.redis_url)
    principal = principal_dependency(lambda: the_gate, limiter, config.api_key_rate_limit)
    reader = role_dependency(principal, "read", "read")
    writer = role_dependency(principal, "write", "change runs")
    router = fastapi.APIRouter(prefix=PREFIX, responses=responses(401, 403, 422, 429))

    def reach_run(who: Principal, c: Client, run_id: str) -> Run:
        run = c.get_run(run_id)
        if who.workflows is not None:
            require_workflow(who, run.workflow)
        return run

    @router.get("/workflows", response_model=list[WorkflowOut], tags=["workflows"])
    def list_workflows(
        *,
        who: Principal = reader,
        search: Annotated[
            Text, Query(max_length=1000, description="Words the name or description must contain.")
        ] = "",
        archived: Annotated[bool, Query(description="Archived workflows too.")] = False,
    ) -> list[WorkflowOut]:
        found = catalog.search(catalog.workflows(client().store, archived=archived), search)
        return [WorkflowOut(**_fields(s, WorkflowOut)) for s in found if who.reaches(s.name)]

    @router.get("/node-kinds", response_model=list[NodeKindOut], tags=["workflows"])
    def list_node_kinds(*, who: Principal = reader) -> list[NodeKindOut]:
        """The node kinds known here, with the JSON schema of each one's options."""
        return [NodeKindOut(**kind) for kind in nodes.described()]

    @router.get(
        "/workflows/{name}/versions",
        response_model=list[VersionOut],
        tags=["workflows"],
        responses=responses(404),
    )
    def list_versions(*, name: WorkflowName, who: Principal = reader) -> list[VersionOut]:
        require_workflow(who, name)
        return [
            VersionOut(**_fields(v, VersionOut)) for v in catalog.versions(client().store, name)
        ]

    @router.post(
        "/workflows/{name}/versions",
        response_model=PublishOut,
        status_code=status.HTTP_201_CREATED,
        tags=["workflows"],
        responses=responses(400, 409, 413),
    )
    def publish(
        *, name: WorkflowName, body: Publish, who: Principal = writer, request: Request
    ) -> PublishOut:
        """Store a version (idempotent): the remote SDK's ``g.run`` sends its graph here.
        The server signs the code with its own signing key without loading it (409 when it
        has none); workers run it like any published version."""
        require_workflow(who, name)
        if body.spec.name != name:
            raise RunStateError(f"the spec is of workflow {body.spec.name!r}, not {name!r}")
        c = client()
        try:
            payload = base64.b64decode(body.code, validate=True)
        except ValueError:
            raise RunStateError("code is not base64") from None
        signer = c.keyring.signing_key(c._stored_key_ids)
        code = codesign.sign(payload, signer, codesign.subject(name, body.version))
        spec = body.spec.model_dump(by_alias=True, exclude_none=True)
        nodes = {n.get("name") for n in spec.get("nodes", [])}
        sources = body.node_sources and {k: v for k, v in body.node_sources.items() if k in nodes}
        version = c.store.publish(
            name,
            body.version,
            spec,
            code,
            signer.key_id,
            created_by=who.actor,
            node_sources=sources or None,
        )
        created_by = version.created_by or _claim_version(c, version.id, who.actor)  # type: ignore[arg-type]
        note(request, "workflow.publish", f"{name} {body.version}")
        return PublishOut(
            workflow=name,
            version=version.version,
            created_at=version.created_at,
            created_by=created_by,
        )

    @router.get(
        "/workflows/{name}",
        response_model=VersionDetail,
        tags=["workflows"],
        responses=responses(404),
    )
    def get_workflow(*, name: WorkflowName, who: Principal = reader) -> VersionDetail:
        """The workflow's current version (the latest, unless another was made current)."""
        require_workflow(who, name)
        return _version_detail(name, catalog.version(client().store, name))

    @router.get(
        "/workflows/{name}/versions/{version}",
        response_model=VersionDetail,
        tags=["workflows"],
        responses=responses(404),
    )
    def get_version(
        *,
        name: WorkflowName,
        version: Annotated[Text, Path(description="A version hash or a unique prefix of one.")],
        who: Principal = reader,
    ) -> VersionDetail:
        require_workflow(who, name)
        return _version_detail(name, catalog.version(client().store, name, version))

    @router.post(
        "/workflows/{name}/runs",
        response_model=RunOut,
        status_code=status.HTTP_201_CREATED,
        tags=["runs"],
        responses=responses(400, 404, 413),
    )
    def start_run(
        *, name: WorkflowName, body: StartRun, response: fastapi.Response, who: Principal = writer
    ) -> RunOut:
        """Start a run of the workflow (its latest version unless ``version`` is given)."""
        require_workflow(who, name)
        c = client()
        version = catalog.version(c.store, name, body.version)
        run = c.start_version(
            version.id,  # type: ignore[arg-type]
            body.inputs,
            trigger="api",
            owner=who.actor,
            outputs=body.outputs,
            start_at=body.start_at,
            priority=body.priority,
        )
        response.headers["Location"] = f"{PREFIX}/runs/{run.id}"
        return _run_summary(c, run.id)

    @router.put(
        "/workflows/{name}/limits",
        response_model=LimitsIn,
        tags=["workflows"],
        responses=responses(400, 404, 413),
    )
    def set_limits(
        *, name: WorkflowName, body: LimitsIn, who: Principal = writer, request: Request
    ) -> LimitsIn:
        """Cap how many of the workflow's runs are running or waiting at once, in every
        worker; the others wait queued, highest priority first."""
        require_workflow(who, name)
        client().set_run_limit(name, body.max_concurrent_runs)
        note(request, "workflow.limits", name, max_concurrent_runs=body.max_concurrent_runs)
        return body

    @router.get("/runs", response_model=RunPage, tags=["runs"])
    def list_runs(
        *,
        who: Principal = reader,
        workflow: Annotated[Text | None, Query(description="Only this workflow's runs.")] = None,
        status: Annotated[RunStatus | None, Query(description="Only runs in this status.")] = None,
        trigger: Annotated[Text | None, Query(description="Only runs started this way.")] = None,
        owner: Annotated[
            Name | None, Query(description="Only runs this user or key started.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
        after: Annotated[
            str | None,
            Query(max_length=200, description="The `next` of the previous page."),
        ] = None,
    ) -> RunPage:
        """Runs, newest first. Page with `after` (each page's `next`); `offset` also works
        but costs more the deeper it goes."""
        if workflow is not None:
            require_workflow(who, workflow)
        rows, total = catalog.runs(
            client().store,
            workflow=workflow,
            status=status,
            trigger=trigger,
            owner=owner,
            workflows=who.workflows,
            limit=limit,
            offset=offset,
            after=after,
        )
        return RunPage(
            runs=[run_out(r) for r in rows],
            total=min(total, catalog.COUNT_CAP + 1),
            total_exact=total <= catalog.COUNT_CAP,
            limit=limit,
            offset=offset,
            next=catalog.cursor(rows[-1]) if len(rows) == limit else None,
        )

    @router.get("/runs/{run_id}", response_model=RunDetail, tags=["runs"], responses=responses(404))
    def get_run(*, run_id: RunId, who: Principal = reader) -> RunDetail:
        """A run with its nodes, inputs and outputs (redacted: see the README)."""
        return run_detail(reach_run(who, client(), run_id))

    @router.get(
        "/runs/{run_id}/events",
        response_model=list[EventOut],
        tags=["runs"],
        responses={
            **responses(404),
            200: {
                "description": "The events (a JSON list); with ``tokens``, a stream of them, "
                "one JSON object a line.",
                "content": {"application/json": {}, NDJSON: {}},
            },
        },
    )
    async def run_events(
        run_id: RunId,
        who: Principal = reader,
        after: Annotated[int, Query(ge=0, le=MAX_INT, description="The last seq seen.")] = 0,
        wait: Annotated[
            float,
            Query(
                ge=0,
                le=MAX_WAIT,
                description="Seconds to wait for an event when none is there yet (long "
                "polling; at most 30). With tokens: how long the stream stays open.",
            ),
        ] = 0,
        tokens: Annotated[
            bool,
            Query(
                description="Stream (NDJSON) the stored events and, live, LLM nodes' text as "
                "it arrives (node.tokens events, seq 0, never stored: keep the last stored "
                "seq as the next request's after). The stream ends at the run's end or "
                "after wait seconds.",
            ),
        ] = False,
    ) -> Any:
        """The run's events after ``after``, in order (their data redacted)."""
        c = client()
        run = await asyncio.to_thread(reach_run, who, c, run_id)
        shown = await asyncio.to_thread(redaction.for_run, run)
        if tokens:
            lines = _event_lines(c, run_id, after, wait, shown)
            return StreamingResponse(lines, media_type=NDJSON)
        events = await _events_after(c, run_id, after, wait)
        return [EventOut.model_validate({**e, "data": shown.value(e["data"])}) for e in events]

    @router.get(
        "/runs/{run_id}/nodes/{node}/output",
        response_model=EncodedOut,
        tags=["runs"],
        responses=responses(404, 409),
    )
    def node_output(
        *, run_id: RunId, node: Annotated[Name, Path()], who: Principal = reader
    ) -> EncodedOut:
        """A node's value, encoded as the SDK stores it (after the run's redaction)."""
        run = reach_run(who, client(), run_id)
        return _encoded(run, run.output(node), f"the output of node {node!r}")

    @router.get(
        "/runs/{run_id}/inputs/{name}",
        response_model=EncodedOut,
        tags=["runs"],
        responses=responses(404, 409),
    )
    def run_input(
        *, run_id: RunId, name: Annotated[Name, Path()], who: Principal = reader
    ) -> EncodedOut:
        """A run input's value, encoded as the SDK stores it (after the run's redaction)."""
        run = reach_run(who, client(), run_id)
        record = run.record
        if name not in record.inputs:
            raise NotFound(f"run {run_id} has no input {name!r}")
        return _encoded(run, run.client.store.load_input(record.inputs[name]), f"input {name!r}")

    @router.get(
        "/runs/{run_id}/diff/{other}",
        response_model=RunDiffOut,
        tags=["runs"],
        responses=responses(404),
    )
    def run_diff(
        *,
        run_id: RunId,
        other: Annotated[Text, Path(description="The run compared with it (B).")],
        who: Principal = reader,
    ) -> RunDiffOut:
        """How run ``other`` (B) differs from run ``run_id`` (A), node by node; the caller
        must be able to read both."""
        from runtime.compare import diff_runs

        c = client()
        a, b = reach_run(who, c, run_id), reach_run(who, c, other)
        return RunDiffOut.model_validate(diff_runs(a, b, redact=True).to_dict())

    @router.get(
        "/runs/{run_id}/nodes/{node}/elements",
        response_model=list[ElementOut],
        tags=["runs"],
        responses=responses(404),
    )
    def node_elements(
        *,
        run_id: RunId,
        node: Annotated[Name, Path()],
        who: Principal = reader,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 50,
    ) -> list[ElementOut]:
        """A map node's elements from index ``offset`` on, ``limit`` of them (errors
        redacted)."""
        run = reach_run(who, client(), run_id)
        shown = redaction.for_run(run)
        return [
            ElementOut(
                index=e.index,
                status=e.status,
                attempts=e.attempts,
                duration=e.duration,
                error=None if e.error is None else shown.text(e.error),
            )
            for e in run.elements(node, offset=offset, limit=limit)
        ]

    @router.get(
        "/runs/{run_id}/documents",
        response_model=list[DocumentOut],
        tags=["runs"],
        responses=responses(404, 409),
    )
    def run_documents(*, run_id: RunId, who: Principal = reader) -> list[DocumentOut]:
        """The documents the run's nodes saved, oldest first."""
        run = reach_run(who, client(), run_id)
        return [
            DocumentOut(
                name=d.name,
                node=d.node,
                kind=d.kind,
                saved_at=d.saved_at,
                value=_encoded(run, d.value, f"document {d.name!r}"),
            )
            for d in run.documents
        ]

    @router.post(
        "/runs/{run_id}/resume",
        response_model=RunOut,
        tags=["runs"],
        responses=responses(400, 404, 409, 413),
    )
    def resume(*, run_id: RunId, body: Resume, who: Principal = writer) -> RunOut:
        """Answer a waiting node; an invalid payload is refused (422, each error under its
        field) and the run keeps waiting."""
        c = client()
        reach_run(who, c, run_id)
        c.resume(run_id, body.node, body.payload, answered_by=who.actor)
        return _run_summary(c, run_id)

    @router.post(
        "/runs/{run_id}/cancel", response_model=CancelOut, tags=["runs"], responses=responses(404)
    )
    def cancel(*, run_id: RunId, who: Principal = writer) -> CancelOut:
        """Cancel the run; a finished run stays as it is (its status is returned)."""
        c = client()
        reach_run(who, c, run_id)
        return CancelOut(id=run_id, status=c.cancel(run_id))

    @router.post(
        "/runs/{run_id}/retry", response_model=RunOut, tags=["runs"], responses=responses(404, 409)
    )
    def retry(*, run_id: RunId, who: Principal = writer) -> RunOut:
        """Continue the same (failed or cancelled) run from its failure: its failed, skipped
        and cancelled nodes run again and every succeeded node keeps its checkpoint. 409
        for a run in any other status."""
        c = client()
        reach_run(who, c, run_id)
        c.retry(run_id, retried_by=who.actor)
        return _run_summary(c, run_id)

    @router.post(
        "/runs/{run_id}/rerun",
        response_model=RunOut,
        status_code=status.HTTP_201_CREATED,
        tags=["runs"],
        responses=responses(404, 409),
    )
    def rerun(*, run_id: RunId, response: fastapi.Response, who: Principal = writer) -> RunOut:
        """Start a new run of the same version with the same inputs (and outputs)."""
        c = client()
        reach_run(who, c, run_id)
        new = c.rerun(run_id, trigger="api", owner=who.actor)
        response.headers["Location"] = f"{PREFIX}/runs/{new.id}"
        return _run_summary(c, new.id)

    @router.post(
        "/runs/{run_id}/replay/plan",
        response_model=ReplayPlanOut,
        tags=["runs"],
        responses=responses(400, 404, 409, 413),
    )
    def replay_plan(*, run_id: RunId, body: ReplayIn, who: Principal = writer) -> ReplayPlanOut:
        """Which nodes a replay would reuse and which it would run again, and why; nothing
        runs."""
        c = client()
        reach_run(who, c, run_id)
        plan = c.replay_plan(run_id, **body.model_dump())
        return ReplayPlanOut(
            source=plan.source,
            version=plan.version,
            reused=plan.reused,
            rerun=plan.rerun,
            spec=plan.spec,
        )

    @router.post(
        "/runs/{run_id}/replay",
        response_model=RunOut,
        status_code=status.HTTP_201_CREATED,
        tags=["runs"],
        responses=responses(400, 404, 409, 413),
    )
    def replay(
        *, run_id: RunId, body: ReplayIn, response: fastapi.Response, who: Principal = writer
    ) -> RunOut:
        """A new run linked to this finished one (`replay_of`) that reuses every checkpoint
        not downstream of a change and runs the rest."""
        c = client()
        reach_run(who, c, run_id)
        new = c.replay(run_id, **body.model_dump(), trigger="api", owner=who.actor)
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
    def report(*, run_id: RunId, who: Principal = reader) -> HTMLResponse:
        """The run's self-contained HTML report."""
        return HTMLResponse(reach_run(who, client(), run_id).report())

    @router.get(
        "/runs/{run_id}/links",
        response_model=list[ShareOut],
        tags=["share links"],
        responses=responses(404),
    )
    def list_links(*, run_id: RunId, who: Principal = reader) -> list[ShareOut]:
        """The run's share links (never their tokens), with who made each."""
        c = client()
        reach_run(who, c, run_id)
        return [_share_out(link) for link in sharing.list_links(run_id, client=c)]

    @router.post(
        "/runs/{run_id}/links",
        response_model=ShareOut,
        status_code=status.HTTP_201_CREATED,
        tags=["share links"],
        responses=responses(400, 404, 413),
    )
    def create_link(
        *, run_id: RunId, body: ShareIn, who: Principal = writer, request: Request
    ) -> ShareOut:
        """A read-only link to the run: its path (``/r/<token>``) is in this answer only."""
        c = client()
        reach_run(who, c, run_id)
        lifetime = sharing.parse_lifetime(body.expires)
        _token, path = sharing.create_link(
            run_id, expires_in=lifetime, created_by=who.actor, client=c
        )
        link = sharing.list_links(run_id, client=c)[-1]
        note(request, "share.create", f"{run_id} link {link.id}")
        return _share_out(link, path)

    @router.delete(
        "/runs/{run_id}/links/{link_id}",
        response_model=ShareOut,
        tags=["share links"],
        responses=responses(404),
    )
    def revoke_link(
        *,
        run_id: RunId,
        link_id: Annotated[int, Path(ge=1, le=MAX_INT)],
        who: Principal = writer,
        request: Request,
    ) -> ShareOut:
        """Revoke a link of the run for good."""
        c = client()
        reach_run(who, c, run_id)
        sharing.revoke_link(link_id, run_id=run_id, client=c)
        note(request, "share.revoke", f"{run_id} link {link_id}")
        return _share_out(next(x for x in sharing.list_links(run_id, client=c) if x.id == link_id))

    def _run_summary(c: Client, run_id: str) -> RunOut:
        record = c.store.get_run(run_id)
        return RunOut.model_validate(_summary(record, c.store.get_version(record.version_id)))

    def _version_detail(name: str, version: Any) -> VersionDetail:
        return VersionDetail(
            workflow=name,
            version=version.version,
            created_at=version.created_at,
            created_by=version.created_by,
            spec=redaction.DEFAULT.spec(version.spec),
        )

    api.include_router(router)
    from runtime.api_schedules import schedules_router

    api.include_router(schedules_router(PREFIX, client, reader, writer))
    from runtime.api_admin import admin_router

    api.include_router(admin_router(PREFIX, lambda: the_gate, principal))
    from runtime.api_webhooks import hook_router, webhooks_router

    api.include_router(webhooks_router(PREFIX, client, principal))
    api.include_router(hook_router(client))
    from runtime.api_workflows import workflows_router

    api.include_router(workflows_router(PREFIX, client, reader, writer))
    from runtime.api_templates import templates_router

    api.include_router(templates_router(PREFIX, client, reader, writer))
    return api


MAX_WAIT = 30.0
"""The longest an events request waits for a first event."""


async def _events_after(c: Client, run_id: str, after: int, wait: float) -> list[EventDict]:
    """Events after ``after``; with ``wait``, for up to that long until there is one (the bus
    rings; the table is read again each second for writers this process cannot hear)."""
    events = await asyncio.to_thread(c.store.events, run_id, after, 1000)
    if events or wait <= 0:
        return events
    loop = asyncio.get_running_loop()
    rang = asyncio.Event()

    def on_events(batch: list[EventDict]) -> None:
        del batch
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(rang.set)

    unsubscribe = c.bus.subscribe(run_id, on_events)
    deadline = loop.time() + wait
    try:
        while not events and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rang.wait(), min(left, 1.0))
            rang.clear()
            events = await asyncio.to_thread(c.store.events, run_id, after, 1000)
    finally:
        unsubscribe()
    return events


NDJSON = "application/x-ndjson"


async def _event_lines(
    c: Client, run_id: str, after: int, wait: float, shown: Redactor
) -> AsyncIterator[bytes]:
    """The run's events after ``after``, then live with its streamed tokens, one JSON line
    each, until the run's end or ``wait`` seconds (the client asks again after the last
    stored seq; tokens sent in between are missed, the final output is stored)."""
    async for e in afollow(c.store, c.bus, run_id, after=after, timeout=wait, tokens=True):
        out = EventOut.model_validate({**e, "data": shown.value(e["data"])})
        yield out.model_dump_json().encode() + b"\n"


def _encoded(run: Run, value: Any, what: str) -> EncodedOut:
    shown = redaction.for_run(run).value(value)
    try:
        encoded = codecs.encode(shown, what=what)
    except CodecError:
        raise RunStateError(f"{what} is a pickled value, which the API does not send") from None
    return EncodedOut(codec=encoded.codec, data=base64.b64encode(encoded.data).decode())


def _share_out(link: sharing.ShareLinkInfo, path: str | None = None) -> ShareOut:
    return ShareOut(
        id=link.id,
        run_id=link.run_id,
        state=link.state,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        created_by=link.created_by,
        path=path,
    )


def _claim_version(c: Client, version_id: int, actor: str) -> str | None:
    """Record who published a version stored before publishers were recorded (the first
    to publish it again through the API claims it)."""
    wv = tables.workflow_version
    with c.store.write() as conn:
        conn.execute(
            sa.update(wv)
            .where(wv.c.id == version_id, wv.c.created_by.is_(None))
            .values(created_by=actor)
        )
        return conn.execute(sa.select(wv.c.created_by).where(wv.c.id == version_id)).scalar()


def _fields(obj: Any, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in model.model_fields}
