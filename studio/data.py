"""Reads the pages make through the runtime, shaped for display. Plain blocking functions:
states call them through ``asyncio.to_thread``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from runtime import catalog, details, redaction, sharing
from runtime.client import Client
from runtime.errors import NotFound, PlaitError
from runtime.nodes.subgraph import child_summary, parent_line
from runtime.redaction import Redactor
from runtime.statuses import NODE_PARKED, NODE_SUCCEEDED, parked_label
from runtime.store.tables import NodeRun
from studio.logic import compare, fmt, forms, maps, node_details
from studio.logic.preview import Preview, preview

MAX_OUTPUTS = 20
"""Final nodes whose values the run page previews."""
MAX_TEXT = 50_000
"""Characters of a traceback or of logs sent to the page (their start and end)."""
MAX_ERROR = 2_000


@dataclass
class KeyValue:
    key: str
    value: str


@dataclass
class ChildLink:
    """A sub-graph node's child run, as the run page links it."""

    node: str
    href: str
    line: str
    """``child run 1a2b3c4d5e6f (enrich): running · 2/5 nodes done``."""
    nodes: str = ""
    """Its nodes with their statuses (``doubled: succeeded · total: running``): what the
    link shows expanded."""


@dataclass
class RunHeader:
    """A run's fixed facts and the spec of its version."""

    id: str
    workflow: str
    version: str
    version_id: int
    status: str
    trigger: str
    owner: str
    created: str
    spec: dict[str, Any]
    inputs: list[KeyValue]
    shown: Redactor = field(default_factory=Redactor)
    """The run's redactor: everything the run page shows passes through it."""
    started_by: str = ""
    """What started it, when a schedule or a webhook delivery did (``schedule 3``,
    ``webhook delivery 12``), and when a delayed run starts."""
    started_by_href: str = "/schedules"
    """Where ``started_by`` links: the schedules page, or the workflow's webhooks."""
    source_href: str = ""
    """A replay's "compare with source" page (``""``: the run is no replay)."""
    parent: str = ""
    """A child run: ``child of run … (node …)``; its parent's page is ``parent_href``."""
    parent_href: str = ""
    children: list[ChildLink] = field(default_factory=list)
    """The child runs of its sub-graph nodes."""
    replay_of: str = ""
    """The run this one replays (``Run.replay_of``); empty: not a replay."""


@dataclass
class AttemptRow:
    number: int
    status: str
    started: str
    ended: str
    duration: str
    error: str


@dataclass
class InputRow:
    param: str
    source: str
    what: str
    """``node`` (another node's output) or ``input`` (a run input)."""
    value: str


@dataclass
class DocumentRow:
    name: str
    kind: str
    preview: Preview


@dataclass
class NodeDetail:
    """Everything the node panel shows about one node of one run."""

    name: str = ""
    kind: str = ""
    status: str = ""
    doc: str = ""
    attempts: list[AttemptRow] = field(default_factory=list)
    error_type: str = ""
    error: str = ""
    traceback: str = ""
    logs: str = ""
    answered_by: str = ""
    skipped_because: str = ""
    """Why a skipped node did not run: a failure upstream, or the branch that did not take
    it."""
    child: str = ""
    """A sub-graph node's child run: its progress line (``child_href`` links its page)."""
    child_href: str = ""
    cached_from: str = ""
    """A ``cached`` node: the attempt whose output it took (``cached_href`` links its run)."""
    cached_href: str = ""
    wake: str = ""
    """``sleeping until 14:05:00 UTC`` (a sleep), ``waiting until ...`` (a wait's timeout)."""
    inputs: list[InputRow] = field(default_factory=list)
    output: Preview = field(default_factory=Preview)
    documents: list[DocumentRow] = field(default_factory=list)
    map: maps.MapPanel = field(default_factory=maps.MapPanel)
    """A map node's progress, failures, histogram and page of elements (empty otherwise)."""
    extras: node_details.DetailsPanel = field(default_factory=node_details.DetailsPanel)
    """A library node's details: token usage, HTTP summary, stdout and stderr."""


@dataclass
class NamedPreview:
    name: str
    preview: Preview


@dataclass
class ShareLinkRow:
    """A share link as the run page lists it (the token itself is never stored)."""

    id: int
    state: str
    """``active``, ``revoked`` or ``expired``."""
    created: str
    created_by: str
    expires: str


def short_value(value: Any, limit: int = 120) -> str:
    """One line for a value in a table of inputs."""
    try:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return f"DataFrame {value.shape[0]:,} x {value.shape[1]:,}"
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    try:
        text = json.dumps(value, default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_header(client: Client, run_id: str) -> RunHeader | None:
    """The run's header, or ``None`` when there is no such run."""
    try:
        record = client.store.get_run(run_id)
    except NotFound:
        return None
    version = client.store.get_version(record.version_id)
    shown = redaction.for_run(client.get_run(run_id))
    inputs = []
    for name, ref in record.inputs.items():
        try:
            text = short_value(_input_shown(shown, name, client.store.load_input(ref)))
        except PlaitError as exc:
            text = f"(cannot load: {exc})"
        inputs.append(KeyValue(name, text))
    return RunHeader(
        id=record.id,
        workflow=version.spec["name"],
        version=version.version,
        version_id=version.id,  # type: ignore[arg-type]
        status=record.status,
        trigger=record.trigger,
        owner=record.owner or "",
        created=fmt.timestamp(record.created_at),
        spec=version.spec,
        inputs=inputs,
        shown=shown,
        started_by=_started_by(record),
        started_by_href=_started_by_href(record, version.spec["name"]),
        source_href=compare.source_link(getattr(record, "replay_of", None), record.id),
        parent=parent_line(record) or "",
        parent_href=f"/runs/{record.parent_run_id}" if record.parent_run_id else "",
        children=child_links(client, run_id),
        replay_of=record.replay_of or "",
    )


def child_links(client: Client, run_id: str) -> list[ChildLink]:
    """The run's child runs (sub-graphs), each with its progress line."""
    links = []
    for child in client.store.children(run_id):
        line, nodes = child_summary(client, child.id)
        shown = " · ".join(f"{name}: {status}" for name, status in nodes)
        links.append(ChildLink(child.parent_node or "", f"/runs/{child.id}", line, shown))
    return links


def _started_by(record: Any) -> str:
    parts = []
    ref = record.trigger_ref or ""
    if ref.startswith("schedule:"):
        parts.append("schedule " + ref.removeprefix("schedule:"))
    if ref.startswith("delivery:"):
        parts.append("webhook delivery " + ref.removeprefix("delivery:"))
    if record.start_at is not None:
        parts.append("starts " + fmt.timestamp(record.start_at))
    return " · ".join(parts)


def _started_by_href(record: Any, workflow: str) -> str:
    if (record.trigger_ref or "").startswith("delivery:"):
        return fmt.workflow_href(workflow) + "#webhooks"  # its deliveries are listed there
    return "/schedules"


def _input_shown(shown: Redactor, name: str, value: Any) -> Any:
    """A run input as it may be shown: its name counts as a key."""
    return shown.value({name: value})[name]


def _extras(
    spec: dict[str, Any], saved: list[tuple[Any, Any]], name: str, shown: Redactor
) -> node_details.DetailsPanel:
    found = details.read(spec, [(d.node, d.name, v) for d, v in saved], shown)
    return node_details.panel(found.node(name), found.usage)


def node_detail(
    client: Client, run_id: str, name: str, spec: dict[str, Any], element_offset: int = 0
) -> NodeDetail:
    """Attempts, error and traceback, logs, inputs and output preview of one node (a map
    node's elements from ``element_offset`` on)."""
    node = next((n for n in spec["nodes"] if n["name"] == name), None)
    if node is None:
        return NodeDetail(name=name, status="unknown node")
    rows = [r for r in client.store.attempts(run_id) if r.node == name]
    latest = rows[-1] if rows else None
    shown = redaction.for_run(client.get_run(run_id))
    detail = NodeDetail(
        name=name,
        kind=node["kind"],
        status=latest_status(latest),
        doc=node.get("doc", ""),
        attempts=[
            AttemptRow(
                number=r.attempt,
                status="failed (retried)" if r.will_retry else r.status,
                started=fmt.timestamp(r.started_at),
                ended=fmt.timestamp(r.ended_at),
                duration=fmt.duration(
                    (r.ended_at - r.started_at).total_seconds()
                    if r.started_at and r.ended_at
                    else None
                ),
                error=shown.excerpt(f"{r.error_type}: {r.error_message}", MAX_ERROR)
                if r.error_type
                else "",
            )
            for r in rows
        ],
    )
    failed = next((r for r in reversed(rows) if r.status == "failed"), None)
    if failed is not None:
        detail.error_type = failed.error_type or ""
        detail.error = shown.excerpt(failed.error_message or "", MAX_ERROR)
        detail.traceback = shown.excerpt(failed.traceback or "", MAX_TEXT)
    logs = "\n".join(f"[attempt {r.attempt}]\n{r.logs}" for r in rows if r.logs)
    detail.logs = shown.excerpt(logs, MAX_TEXT)
    if latest is not None and "subgraph" in node:
        link = next((c for c in child_links(client, run_id) if c.node == name), None)
        if link is not None:
            detail.child, detail.child_href = link.line, link.href
    if latest is not None:
        detail.answered_by = latest.answered_by or ""
        if latest.status == "skipped":
            detail.skipped_because = shown.excerpt(latest.error_message or "", MAX_ERROR)
        if latest.status in NODE_PARKED and latest.wake_at is not None:
            detail.wake = parked_label(latest.status, latest.wake_at)
        if latest.cached_from is not None:
            origin = client.store.attempt_origins([latest.cached_from]).get(latest.cached_from)
            if origin is not None:
                detail.cached_from = f"cached from run {origin[0]}, attempt {origin[1]}"
                detail.cached_href = f"/runs/{origin[0]}"
        if latest.status == "succeeded":
            try:
                detail.output = preview(shown.value(client.store.load_output(latest)))
            except PlaitError as exc:
                detail.output = Preview("text", "cannot load", text=str(exc))
    detail.inputs = _inputs(client, run_id, node, spec, shown)
    saved = client.store.documents(run_id)
    detail.documents = [
        DocumentRow(doc.name, doc.kind, preview(shown.value(value), doc.kind))
        for doc, value in saved
        if doc.node == name and not details.shown_as_details(node["kind"], doc.name)
    ]
    detail.extras = _extras(spec, saved, name, shown)
    detail.map = map_panel(client, run_id, name, element_offset, shown)
    return detail


def latest_status(latest: NodeRun | None) -> str:
    """The node panel's status: its latest row's, ``cached`` for a cache hit."""
    if latest is None:
        return "pending"
    return "cached" if latest.cached_from is not None else latest.status


def map_panel(
    client: Client, run_id: str, name: str, offset: int, shown: Redactor | None = None
) -> maps.MapPanel:
    """A map node's panel (an empty one for any other node)."""
    run = client.get_run(run_id)
    progress = run.maps.get(name)
    if progress is None:
        return maps.MapPanel()
    shown = shown or redaction.for_run(run)
    return maps.panel(progress, run.elements(name), offset, shown)


def _inputs(
    client: Client, run_id: str, node: dict[str, Any], spec: dict[str, Any], shown: Redactor
) -> list[InputRow]:
    names = {n["name"] for n in spec["nodes"]}
    record = client.store.get_run(run_id)
    latest = {r.node: r for r in client.store.attempts(run_id)}  # the last attempt wins
    out = []
    for param, source in node.get("inputs", {}).items():
        if source in names:
            row = latest.get(source)
            state = row.status if row else "pending"
            size = f", {fmt.size(row.output_size)}" if row is not None and row.output_size else ""
            out.append(InputRow(param, source, "node", f"output of {source} ({state}{size})"))
            continue
        ref = record.inputs.get(source)
        if ref is None:
            default = _input_shown(
                shown, source, spec.get("inputs", {}).get(source, {}).get("default")
            )
            out.append(InputRow(param, source, "input", f"default {short_value(default)}"))
        else:
            value = _input_shown(shown, source, client.store.load_input(ref))
            out.append(InputRow(param, source, "input", short_value(value)))
    return out


def outputs(client: Client, run_id: str) -> list[NamedPreview]:
    """Previews of the requested outputs' values (else the final nodes'), those that
    succeeded."""
    run = client.get_run(run_id)
    shown = redaction.for_run(run)
    nodes = run.nodes
    asked = run.record.targets or run.spec["outputs"]
    done = [n for n in asked if nodes[n].status in NODE_SUCCEEDED]
    return [
        NamedPreview(name, preview(shown.value(run.output(name)))) for name in done[:MAX_OUTPUTS]
    ]


MAX_WAIT_CONTEXT = 5
"""Upstream values shown beside one wait's form (the first, by the spec's order)."""


def wait_context(client: Client, run_id: str, waits: list[forms.WaitForm]) -> list[forms.WaitForm]:
    """``waits`` with their context: the previews (redacted as the run's outputs are) of the
    succeeded nodes each waits after."""
    if not waits:
        return waits
    run = client.get_run(run_id)
    shown = redaction.for_run(run)
    deps = {n["name"]: n.get("depends_on", []) for n in run.spec["nodes"]}
    nodes = run.nodes
    out = []
    for form in waits:
        done = [d for d in deps.get(form.node, []) if nodes[d].status in NODE_SUCCEEDED]
        context = []
        for name in done[:MAX_WAIT_CONTEXT]:
            try:
                shown_value = preview(shown.value(run.output(name)))
            except Exception as exc:  # a value this process cannot load stops no page
                shown_value = Preview(kind="text", text=f"cannot load: {exc}")
            context.append(forms.WaitContext(name, shown_value))
        out.append(dataclasses.replace(form, context=context))
    return out


def run_form_fields(client: Client, version_id: int, spec: dict[str, Any]) -> list[forms.FormField]:
    """The "Run" form of a version: typed by the node functions' annotations when the code
    loads here, else by the defaults."""
    kinds: dict[str, str] = {}
    try:
        kinds = forms.annotation_kinds(client.load_graph(version_id))
    except Exception:  # unpickling code can fail in many ways; the form works untyped
        kinds = {}
    return forms.input_fields(spec, kinds)


def workflow_runs(client: Client, workflow: str, limit: int = 20) -> list[catalog.RunRow]:
    rows, _ = catalog.runs(client.store, workflow=workflow, limit=limit)
    return rows


def share_links(client: Client, run_id: str) -> list[ShareLinkRow]:
    """The run's share links, newest first."""
    return [
        ShareLinkRow(
            id=link.id,
            state=link.state,
            created=fmt.timestamp(link.created_at),
            created_by=link.created_by or "",
            expires=fmt.until(link.expires_at),
        )
        for link in reversed(sharing.list_links(run_id, client=client))
    ]
