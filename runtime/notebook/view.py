"""The live run view: a view-model fed by ``run.events()`` on a follower thread, and one
refresher thread that alone writes widgets, at most ``HZ`` times a second, at once when a wait
opens, a node fails or the run ends, and once more after the end (a trailing flush).

Jupyter drops widget messages silently past ~1000/s (server rate limit) or ~2000 in flight
(ZeroMQ high-water mark), usually the last ones; coalescing keeps every view far below that.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from IPython.display import HTML

from runtime import details as node_extras
from runtime import drawing as svg
from runtime import mapview, redaction
from runtime.errors import PlaitError
from runtime.nodes.subgraph import child_summary
from runtime.notebook import details as extras_html
from runtime.notebook.forms import WaitForm
from runtime.redaction import Redactor
from runtime.statuses import (
    NODE_DONE,
    NODE_EVENT_STATUS,
    NODE_PARKED,
    NODE_SUCCEEDED,
    RUN_END_EVENTS,
    RUN_FINISHED,
    RUN_PARKED,
    UNTAKEN_LABEL,
    event_node_status,
    label,
    node_status_after_run_end,
    parked_label,
    spec_deps,
    untaken_nodes,
)

if TYPE_CHECKING:
    from runtime.client import Run

HZ = 10.0


def _when(iso: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(iso) if isinstance(iso, str) else None


URGENT_EVENTS = (
    frozenset({"node.waiting", "node.sleeping", "node.failed", "run.waiting", "run.sleeping"})
    | RUN_END_EVENTS
)
MAX_TEXT = 100_000
"""Characters of an error, traceback or logs shown (start and end kept)."""


@dataclass
class RunModel:
    """Everything the view shows, folded from events; no widget in here."""

    spec: dict[str, Any]
    status: str = "queued"
    nodes: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    retry_at: dict[str, float] = field(default_factory=dict)
    """Retrying node -> Unix time of its next attempt."""
    reasons: dict[str, str] = field(default_factory=dict)
    """Skipped node -> why (a failure upstream, or the branch that did not take it)."""
    took: dict[str, list[str]] = field(default_factory=dict)
    """Branch -> the successors it took."""
    children: dict[str, str] = field(default_factory=dict)
    """Sub-graph node -> its child run's id."""
    maps: dict[str, mapview.MapProgress] = field(default_factory=dict)
    """Map node -> how far its elements are (``map.progress`` events)."""
    wake_at: dict[str, dt.datetime] = field(default_factory=dict)
    """Sleeping node (or waiting one with a timeout) -> when it wakes."""
    run_wake_at: dt.datetime | None = None
    """A parked run's wake time (the earliest of its nodes')."""
    seq: int = 0

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Fold one event in; returns whether it deserves an immediate push."""
        self.seq = event["seq"]
        kind, node, data = event["type"], event["node"], event["data"]
        if kind.startswith("run.") and "status" in data:
            self.status = data["status"]
            self.run_wake_at = _when(data.get("wake_at"))
        if kind in RUN_END_EVENTS:
            self.nodes = {
                n: node_status_after_run_end(s, self.status) for n, s in self.nodes.items()
            }
        if kind == "map.progress" and node is not None:
            self.maps.setdefault(node, mapview.MapProgress()).fold(data)
        if kind == "run.retried":
            for name in data.get("restart", []):
                self.nodes[name] = "pending"
        if node is not None and kind in NODE_EVENT_STATUS:
            status = event_node_status(kind, data)
            self.nodes[node] = status
            if status == "retrying":
                self.retry_at[node] = data.get("retry_at") or event["at"]
            else:
                self.retry_at.pop(node, None)
            if "attempt" in data:
                self.attempts[node] = data["attempt"]
            if (wake := _when(data.get("wake_at"))) is not None:
                self.wake_at[node] = wake
            else:
                self.wake_at.pop(node, None)
            if kind == "node.running":
                self.started[node] = event["at"]
                self.ended.pop(node, None)
            elif kind in ("node.succeeded", "node.failed", "node.cancelled"):
                self.ended[node] = event["at"]
            if kind == "node.failed":
                self.errors[node] = f"{data.get('error_type')}: {data.get('error')}"
            if kind == "node.skipped":
                self.reasons[node] = str(data.get("reason") or "")
            if kind == "node.succeeded" and "took" in data:
                self.took[node] = list(data["took"])
            if kind == "node.waiting" and "child_run" in data:
                self.children[node] = data["child_run"]  # waits for a run, not a person
                self.waiting.discard(node)
            elif kind == "node.waiting":
                self.waiting.add(node)
            else:
                self.waiting.discard(node)
        return kind in URGENT_EVENTS

    def duration(self, node: str) -> float | None:
        if node in self.started and node in self.ended:
            return self.ended[node] - self.started[node]
        return None

    @property
    def finished(self) -> bool:
        return self.status in RUN_FINISHED

    def untaken(self) -> frozenset[str]:
        """Skipped nodes on untaken branch paths (drawn greyed)."""
        return untaken_nodes(spec_deps(self.spec), self.nodes)

    def banner_status(self) -> str:
        """``sleeping until 14:05:00 UTC`` for a parked run with a wake time, else its
        status."""
        if self.status in RUN_PARKED and self.run_wake_at is not None:
            return parked_label(self.status, self.run_wake_at)
        return self.status

    def progress(self) -> tuple[int, int]:
        done = sum(1 for s in self.nodes.values() if s in NODE_DONE)
        return done, len(self.spec["nodes"])

    def svg(self) -> str:
        labels = {}
        for name in self.nodes:
            took = self.duration(name)
            if took is not None:
                labels[name] = f"{took * 1000:.0f} ms" if took < 1 else f"{took:.1f} s"
        for name, paths in self.took.items():  # a branch says where it went
            went = "→ " + (", ".join(paths) or "nowhere")
            labels[name] = f"{went} · {labels[name]}" if name in labels else went
        for name, progress in self.maps.items():
            labels[name] = progress.text  # a map is one node: its elements as a count
        return svg.render(self.spec, self.nodes, labels)


class Pacer:
    """When to push: dirty marks coalesce; urgent ones push at once; the caller pushes once
    more after the end. Plain object so batching is testable without threads."""

    def __init__(self, hz: float = HZ) -> None:
        self.period = 1.0 / hz
        self.dirty = threading.Event()
        self.urgent = threading.Event()

    def mark(self, urgent: bool = False) -> None:
        self.dirty.set()
        if urgent:
            self.urgent.set()

    def next_push(self, timeout: float | None = None) -> bool:
        """Block until a push is due; ``False`` if nothing changed within ``timeout``."""
        if not self.dirty.wait(timeout):
            return False
        self.urgent.wait(self.period)
        self.urgent.clear()
        self.dirty.clear()
        return True


class RunView:
    """``display(run)`` shows this; build it with ``RunView(run)``."""

    def __init__(self, run: Run, *, hz: float = HZ) -> None:
        self.run = run
        self.shown = redaction.for_run(run)
        """What the view shows passes through this (the run's secrets are known values)."""
        self.model = RunModel(run.spec)
        self.pacer = Pacer(hz)
        self.pushes = 0
        self._lock = threading.Lock()
        self._forms: dict[str, WaitForm] = {}
        self._outputs_shown = False
        self._when_finished: list[Any] = []
        self._finished = threading.Event()
        self._child_followers: dict[str, threading.Thread] = {}

        self.banner = w.HTML()
        self.graph = w.HTML()
        self.table = w.HTML()
        self.forms = w.VBox()
        self.details_pick = w.Dropdown(
            options=["(choose a node)"] + [n["name"] for n in self.model.spec["nodes"]],
            description="Node",
        )
        self.details = w.HTML()
        self.details_pick.observe(self._show_details, names="value")
        self.replay_plan_button = w.Button(description="Plan replay", disabled=True)
        """Draws what a replay from the chosen node would reuse and re-run
        (``Run.replay_plan``); enabled once the run has ended and a node is chosen."""
        self.replay_button = w.Button(
            description="Replay from here", disabled=True, button_style="primary"
        )
        """Starts that replay (``Run.replay``); enabled once its plan is shown."""
        self.replay_plan_button.on_click(lambda _b: self.plan_replay())
        self.replay_button.on_click(lambda _b: self.start_replay())
        self.replay_view = w.HTML()
        self.replayed: Run | None = None
        """The replay started from this view."""
        self.outputs = w.Output()
        self.box = w.VBox(
            [
                self.banner,
                self.graph,
                self.forms,
                self.table,
                w.HBox([self.details_pick, self.replay_plan_button, self.replay_button]),
                self.details,
                self.replay_view,
                self.outputs,
            ]
        )
        self.box.add_class("plait-run")
        self._render()
        self._follower = threading.Thread(target=self._follow, daemon=True, name="plait-view-in")
        self._refresher = threading.Thread(target=self._refresh, daemon=True, name="plait-view")
        self._follower.start()
        self._refresher.start()

    # -- threads ------------------------------------------------------------------------

    def _follow(self) -> None:
        try:
            for event in self.run.events(stop_at_end=True):
                with self._lock:
                    urgent = self.model.apply(event)
                self.pacer.mark(urgent)
        except PlaitError as exc:
            self.banner.value = (
                f"<div data-state='error'>view stopped: {html.escape(str(exc))}</div>"
            )
        self.pacer.mark(urgent=True)

    def _refresh(self) -> None:
        while True:
            self.pacer.next_push()
            self._render()
            # the follower ends with the run's last end (a retried run's history holds more)
            ended = self.model.finished and not self._follower.is_alive()
            if ended and not self.pacer.dirty.is_set():
                self._render()  # trailing flush: the last state must reach the page
                self._finished.set()
                for callback in list(self._when_finished):
                    callback()
                return

    def _follow_child(self, child_id: str) -> None:
        """Push again whenever a child run of a sub-graph node moves (its progress line)."""
        if child_id in self._child_followers:
            return

        def follow() -> None:
            from runtime.client import Run

            with contextlib.suppress(PlaitError):
                for _ in Run(self.run.client, child_id).events(stop_at_end=True):
                    self.pacer.mark()
            self.pacer.mark()

        thread = threading.Thread(target=follow, daemon=True, name="plait-view-child")
        self._child_followers[child_id] = thread
        thread.start()

    def when_finished(self, callback: Any) -> None:
        """Call ``callback()`` once the run has ended and the view shows it (at once if it
        has already); the notebook display refreshes its static snapshot this way."""
        self._when_finished.append(callback)
        if self._finished.is_set():
            callback()

    # -- rendering ----------------------------------------------------------------------

    def _render(self) -> None:
        with self._lock:  # one snapshot of the model for everything written below
            model = self.model
            done, total = model.progress()
            state = "finished" if model.finished else model.status
            banner = (
                f"<div class='plait-banner' data-state='{state}' data-status='{model.status}'>"
                f"<b>{html.escape(model.spec['name'])}</b> run <code>{self.run.id[:12]}</code>: "
                f"<b>{model.banner_status()}</b> — {done}/{total} nodes done</div>"
            )
            children = dict(model.children)
            for child in children.values():
                self._follow_child(child)
            lines = {n: child_summary(self.run.client, c) for n, c in children.items()}
            graph, table = model.svg(), self._table_html(model, self.shown, lines)
            waiting = set(model.waiting)
        # the banner last: once it says "waiting" or "finished", the rest already does
        self._sync_forms(waiting)
        self.graph.value, self.table.value = graph, table
        self.banner.value = banner
        if model.finished and not self._outputs_shown:
            self._outputs_shown = True
            # a node chosen while the run went on: it may be replayed from now on
            self.replay_plan_button.disabled = self.details_pick.index in (None, 0)
            self._show_outputs()
        self.pushes += 1

    @staticmethod
    def _table_html(
        model: RunModel,
        shown: Redactor = redaction.DEFAULT,
        children: dict[str, tuple[str, list[tuple[str, str]]]] | None = None,
    ) -> str:
        rows = []
        untaken = model.untaken()
        for node in model.spec["nodes"]:
            name = node["name"]
            status = model.nodes.get(name, "pending")
            took = model.duration(name)
            shown_as = UNTAKEN_LABEL if name in untaken else label(status)
            note = model.errors.get(name, "")
            if status == "skipped":
                note = model.reasons.get(name, "")
            if status in NODE_PARKED and name in model.wake_at:
                shown_as = parked_label(status, model.wake_at[name])
            if status == "retrying" and name in model.retry_at:
                next_at = time.strftime("%H:%M:%S", time.localtime(model.retry_at[name]))
                shown_as += f" at {next_at}"
            mark = " data-untaken='true'" if name in untaken else ""
            progress = model.maps.get(name)
            if progress is not None:
                shown_as += f" <span class='plait-map-progress'>{progress.text}</span>"
                if progress.failures:
                    note = note or f"failed elements: {progress.failures_text()}"
            rows.append(
                f"<tr data-node='{html.escape(name)}' data-status='{status}'{mark}>"
                f"<td>{html.escape(name)}</td>"
                f"<td style='background:{svg.colour(status)}'>{shown_as}</td>"
                f"<td>{model.attempts.get(name, 0)}</td>"
                f"<td>{'' if took is None else f'{took:.3f} s'}</td>"
                f"<td>{html.escape(shown.text(note))}</td></tr>"
            )
            if children and name in children:  # the sub-graph's child run, nested under it
                line, child_nodes = children[name]
                inner = "".join(
                    f"<li>{html.escape(n)}: {html.escape(s)}</li>" for n, s in child_nodes
                )
                rows.append(
                    f"<tr class='plait-child' data-child-run='{model.children[name]}'>"
                    f"<td colspan='5'><details><summary>↳ {html.escape(line)}</summary>"
                    f"<ul>{inner}</ul><code>client.get_run('{model.children[name]}')</code>"
                    "</details></td></tr>"
                )
        return (
            "<table class='plait-nodes'><thead><tr><th>node</th><th>status</th>"
            "<th>attempts</th><th>duration</th><th>error</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )

    def _sync_forms(self, waiting: set[str]) -> None:
        if set(self._forms) == waiting:
            return
        for node in list(self._forms):
            if node not in waiting:
                del self._forms[node]
        schemas = {n["name"]: n.get("schema", {}) for n in self.model.spec["nodes"]}
        for node in sorted(waiting - set(self._forms)):
            self._forms[node] = WaitForm(node, schemas[node], self._submitter(node))
        self.forms.children = [f.box for f in self._forms.values()]

    def _submitter(self, node: str) -> Any:
        def submit(payload: dict) -> None:
            self.run.resume(node, payload, answered_by="notebook")

        return submit

    def _show_outputs(self) -> None:
        try:
            values = self.run.outputs
        except PlaitError as exc:
            self.outputs.append_stdout(f"outputs unavailable: {exc}\n")
            return
        redactor = redaction.for_run(self.run)  # with the answers given since the start
        for name, value in values.items():
            shown = f"<b>{html.escape(name)}</b>{preview_html(value, redactor)}"
            self.outputs.append_display_data(HTML(shown))
        self._show_run_usage(redactor)
        kinds = {n["name"]: n["kind"] for n in self.model.spec["nodes"]}
        for doc in self.run.documents:
            if node_extras.shown_as_details(kinds.get(doc.node, ""), doc.name):
                continue  # in the node's details
            shown = f"<b>{html.escape(doc.name)}</b> <i>({doc.kind}, {html.escape(doc.node)})</i>"
            self.outputs.append_display_data(HTML(shown + preview_html(doc.value, redactor)))
        if self.model.status == "failed":
            error = redactor.excerpt(self.run.error or "failed", MAX_TEXT)
            self.outputs.append_stdout(error + "\n")

    def _show_run_usage(self, redactor: Redactor) -> None:
        usage = node_extras.run_details(self.run, redactor).usage
        if usage.nodes:
            self.outputs.append_display_data(HTML(extras_html.run_usage_html(usage)))

    def _show_details(self, change: dict) -> None:
        name = change["new"]
        self.replay_view.value, self.replay_button.disabled = "", True
        if name not in self.run.nodes:
            self.details.value = ""
            self.replay_plan_button.disabled = True
            return
        self.replay_plan_button.disabled = not self.model.finished
        self.details.value = node_details_html(self.run, name)

    # -- replay from the chosen node ----------------------------------------------------------

    def plan_replay(self) -> None:
        """Draw, on the graph, what a replay from the chosen node would reuse and re-run."""
        node = self.details_pick.value
        try:
            plan = self.run.replay_plan([node])
        except PlaitError as exc:
            self.replay_view.value = (
                f"<div data-state='error'>cannot replay: {html.escape(str(exc))}</div>"
            )
            self.replay_button.disabled = True
            return
        self.replay_view.value = plan._repr_html_()
        self.replay_button.disabled = False

    def start_replay(self) -> Run | None:
        """Start the replay whose plan is shown; the new run is ``self.replayed``."""
        node = self.details_pick.value
        try:
            self.replayed = self.run.replay([node])
        except PlaitError as exc:
            self.replay_view.value = (
                f"<div data-state='error'>cannot replay: {html.escape(str(exc))}</div>"
            )
            return None
        self.replay_button.disabled = True
        self.replay_view.value += (
            f"<div class='plait-replay-started'>replay <code>{self.replayed.id}</code> "
            f"started: <code>rt.get_run({self.replayed.id!r})</code></div>"
        )
        return self.replayed


def preview_html(value: Any, shown: Redactor = redaction.DEFAULT) -> str:
    """HTML for a value (redacted): DataFrames as a capped table with their shape, others as
    repr."""
    value = shown.value(value)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        return (
            f"<div class='plait-frame'>DataFrame {value.shape[0]} rows, {value.shape[1]} columns"
            f"{value.head(20).to_html(classes='dataframe')}</div>"
        )
    if pd is not None and isinstance(value, pd.Series):
        return f"<div>Series ({len(value)})</div>{value.head(20).to_frame().to_html()}"
    text = shown.text(repr(value))
    if len(text) > 5000:
        text = text[:5000] + " …"
    return f"<pre class='plait-value'>{html.escape(text)}</pre>"


def node_details_html(run: Run, name: str) -> str:
    """A node's status, output, details (token usage, HTTP summary, stdout and stderr),
    error, traceback and logs, redacted."""
    info = run.nodes[name]
    shown = redaction.for_run(run)
    parts = [
        f"<div class='plait-node-details' data-node='{html.escape(name)}'>"
        f"<b>{html.escape(name)}</b>: {info.status}, attempts {info.attempts}"
    ]
    if info.cached_from is not None:
        source, attempt = info.cached_from
        parts.append(f" (cached from run {html.escape(source)} attempt {attempt})")
    if info.status in NODE_SUCCEEDED:
        parts.append(preview_html(run.output(name), shown))
    progress = run.maps.get(name)
    if progress is not None:
        parts.append(map_details_html(run, name, progress, shown))
    extras = node_extras.run_details(run, shown).node(name)
    if extras is not None:
        parts.append(extras_html.node_details_html(extras))
    if info.error:
        error = shown.excerpt(f"{info.error_type or ''}: {info.error}", MAX_TEXT)
        parts.append(f"<pre>{html.escape(error)}</pre>")
    if info.traceback:
        traceback = shown.excerpt(info.traceback, MAX_TEXT)
        parts.append(f"<pre class='plait-traceback'>{html.escape(traceback)}</pre>")
    if info.logs:
        logs = shown.excerpt(info.logs, MAX_TEXT)
        parts.append(f"<pre class='plait-logs'>{html.escape(logs)}</pre>")
    parts.append("</div>")
    return "".join(parts)


MAX_ELEMENTS_SHOWN = 200


def map_details_html(
    run: Run, name: str, progress: mapview.MapProgress, shown: Redactor = redaction.DEFAULT
) -> str:
    """A map node's drill-down: progress, failures by index, the histogram of element
    durations, and its elements (failed ones first) in an expandable table."""
    elements = run.elements(name)
    durations = [e.duration for e in elements if e.duration is not None]
    failed = [e for e in elements if e.status == "failed"]
    listed = failed + [e for e in elements if e.status != "failed"]
    listed = [
        mapview.Element(e.index, e.status, e.attempts, e.duration, shown.text(e.error or ""))
        for e in listed[:MAX_ELEMENTS_SHOWN]
    ]
    more = len(elements) - len(listed)
    parts = [
        f"<div class='plait-map' data-map='{html.escape(name)}'>",
        f"<div>elements <b class='plait-map-progress'>{progress.text}</b>",
        f", {progress.failed} failed" if progress.failed else "",
        f", {progress.running} running" if progress.running else "",
        "</div>",
    ]
    if progress.failures:
        text = shown.text(progress.failures_text(limit=20))
        parts.append(f"<div class='plait-map-failures'>failed: {html.escape(text)}</div>")
    parts.append(mapview.histogram_svg(mapview.histogram(durations)))
    parts.append(
        f"<details class='plait-elements'><summary>{len(elements)} elements"
        f"{f' (first {len(listed)} shown)' if more else ''}</summary>"
        f"{mapview.elements_table_html(listed)}</details></div>"
    )
    return "".join(parts)


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    """Poll a condition (for tests and scripts driving a view without a browser)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)
