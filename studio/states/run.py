"""The run page: a live view of one run, fed by its events.

``listen`` (started by the page's ``on_load``, so Reflex cancels it when the tab closes or
navigates away) reads the run's events with ``Run.aevents`` — history from the event table,
then live from the bus, no gap and no duplicate, with LLM nodes' streamed text — and applies
each burst in one state update, which Reflex pushes to the browser over its websocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from runtime import sharing
from runtime.client import Run
from runtime.errors import NotFound, PayloadError, PlaitError
from runtime.events import TOKENS
from runtime.statuses import RUN_FINISHED, RUN_RETRYABLE
from runtime.store.tables import EventDict
from studio import data
from studio.logic import fmt, forms, layout, live, preview, search, urls
from studio.logic import replay as replay_logic
from studio.logic.maps import PAGE_SIZE, MapLine
from studio.logic.run_page import RunPage, StatusCount
from studio.states.base import blocking, client, permitted, record

log = logging.getLogger("plait.studio")

_END = object()
"""Put on the queue when the run's event stream ends."""
_TICK = object()
"""Put on the queue now and then for a run with sub-graphs: its children's lines move on
while the run itself, parked, says nothing."""
CHILD_TICK_SECONDS = 2.0

CANCEL_REQUESTED = "cancel requested"
"""The action message while a cancel is on its way (cleared when the run ends)."""

SHARE_LIFETIMES = {"1 hour": "1h", "1 day": "1d", "7 days": "7d", "30 days": "30d", "never": ""}
"""What the share dialog offers, as ``runtime.sharing.parse_lifetime`` reads it."""


class RunState(rx.State):
    loading: bool = True
    found: bool = True
    workflow: str = ""
    workflow_href: str = ""
    version: str = ""
    run_status: str = ""
    wake: str = ""
    """``sleeping until 14:05:00 UTC`` while the run is parked until a time."""
    trigger: str = ""
    started_by: str = ""
    started_by_href: str = "/schedules"
    source_href: str = ""
    """A replay's compare-with-source page, else ``""``."""
    owner: str = ""
    created: str = ""
    elapsed: str = ""
    error: str = ""
    cancel_requested: bool = False
    progress: str = ""
    status_counts: list[StatusCount] = []
    """Nodes per status, each status on its own (succeeded, failed, skipped, …)."""
    cancel_confirm: bool = False
    """The "cancel this run?" dialog is open."""
    parent_line: str = ""
    parent_href: str = ""
    children: list[data.ChildLink] = []
    maps: list[MapLine] = []
    """One line per map node: its elements' progress and failures."""
    inputs: list[data.KeyValue] = []
    outputs: list[data.NamedPreview] = []
    flow_nodes: list[dict[str, Any]] = []
    flow_edges: list[dict[str, Any]] = []
    direction: str = "LR"
    timeline_rows: list[live.TimelineRow] = []
    timeline_span: str = ""
    waits: list[forms.WaitForm] = []
    selected: str = ""
    detail: data.NodeDetail = data.NodeDetail()
    stream_text: str = ""
    """What the selected LLM node has streamed so far (its attempt still running); its
    checkpointed output replaces it once read."""
    detail_loading: bool = False
    collapsed: list[str] = []
    graph_query: str = ""
    """The graph's node search: matching nodes are highlighted, the others dimmed."""
    graph_found: str = ""
    """``3 found`` (or ``no node found``) while searching."""
    share_open: bool = False
    share_lifetime: str = "7 days"
    share_url: str = ""
    """The link just created: its token is shown this once and never stored."""
    share_links: list[data.ShareLinkRow] = []
    share_message: str = ""
    message: str = ""
    live_error: str = ""
    last_seq: int = 0
    replay_of: str = ""
    """The run this one replays (the header links it)."""
    replay_open: bool = False
    """The selected node's "Replay from here" form is shown."""
    replay_rows: list[replay_logic.PlanRow] = []
    replay_summary: str = ""
    replay_message: str = ""
    replay_planned: bool = False
    """A plan was previewed for the form as it stands: the replay may be confirmed."""

    _replay_args: replay_logic.ReplayArgs | None = None
    _share_new_id: int = 0
    """The id of the link whose URL the copy box shows (revoking it empties the box)."""

    _page: RunPage | None = None
    """The run's spec and events so far (read through ``_raw_page``)."""
    _version_id: int = 0

    # -- derived ---------------------------------------------------------------------------

    @rx.var
    def graph_key(self) -> str:
        """Remounts (and re-fits) the graph when the run or the direction changes."""
        return f"{self.run_id}-{self.direction}"  # type: ignore[attr-defined]

    @rx.var
    def detail_json_rows(self) -> list[preview.JsonRow]:
        return preview.visible_rows(self.detail.output.json_rows, self.collapsed)

    @rx.var
    def finished(self) -> bool:
        return self.run_status in RUN_FINISHED

    # -- live ------------------------------------------------------------------------------

    @rx.event(background=True)
    async def listen(self) -> None:
        async with self:
            run_id = self.run_id  # type: ignore[attr-defined]
            self._reset()
            allowed, _ = await permitted(self, "read", "read runs")
        if allowed is None:
            return
        header = await blocking(data.run_header, client(), run_id)
        if header is None:
            # a short id, as the tables show it: the run it stands for, when only one
            full = await blocking(search.unique_run, client().store, run_id)
            if full is not None:
                return rx.redirect(f"/runs/{full}")  # type: ignore[return-value]
            async with self:
                self.found, self.loading = False, False
            return
        async with self:
            self._start(header)
            # ?node=<name>: the address selects a node (the detail loads below)
            node = urls.selected_node(
                self.router.url.query_parameters,
                {n["name"] for n in header.spec["nodes"]},
            )
            self.selected = node
            self.detail_loading = bool(node)
        if node:
            detail = await blocking(data.node_detail, client(), run_id, node, header.spec)
            async with self:
                if self.selected == node:
                    self.detail, self.detail_loading = detail, False
        interval = push_interval(len(header.spec["nodes"]))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        pump = asyncio.create_task(_pump(run_id, queue))
        nested = any("subgraph" in n for n in header.spec["nodes"])
        ticker = asyncio.create_task(_tick(queue)) if nested else None
        pushed = 0.0
        try:
            while True:
                batch = [await queue.get()]
                # a burst becomes one update; while they come fast, at most one per interval
                # (the browser redraws the whole graph per update and must keep up)
                if (wait := pushed + interval - loop.time()) > 0:
                    await asyncio.sleep(wait)
                while not queue.empty():
                    batch.append(queue.get_nowait())
                events = [e for e in batch if isinstance(e, dict)]
                stored = [e for e in events if e["type"] != TOKENS]
                ended = any(e is _END or isinstance(e, Exception) for e in batch)
                failure = next((e for e in batch if isinstance(e, Exception)), None)
                children = await blocking(data.child_links, client(), run_id) if nested else None
                async with self:
                    if children is not None:
                        self.children = children
                    page = self._raw_page()
                    changed = page.apply(stored)  # type: ignore[arg-type]
                    streaming = page.view.streams.streaming
                    page.apply_tokens(events)  # type: ignore[arg-type]
                    rendered: set[str] = set()
                    if stored or not events or streaming != page.view.streams.streaming:
                        rendered = self._render()  # text alone changes no more than the panel
                    waits = list(self.waits) if "waits" in rendered else []
                    self.loading = False
                    if failure is not None:
                        self.live_error = f"live updates stopped: {failure}"
                    selected = self.selected if self.selected in changed else ""
                    text = page.stream_text(self.selected) if self.selected else ""
                    # an ended attempt's text stays until its output is read, then gives way
                    if text != self.stream_text and (text or not selected):
                        self.stream_text = text
                    offset = self.detail.map.offset
                    finished = live.RUN_LEVEL in changed and page.view.finished
                    spec = page.spec
                pushed = loop.time()
                if waits:  # new questions: what each is about, beside its form
                    told = await blocking(data.wait_context, client(), run_id, waits)
                    context = {w.node: w.context for w in told}
                    async with self:  # only the context: an answer's errors may be newer
                        self.waits = [
                            dataclasses.replace(w, context=context.get(w.node, w.context))
                            for w in self.waits
                        ]
                if selected:
                    detail = await blocking(
                        data.node_detail, client(), run_id, selected, spec, offset
                    )
                    async with self:
                        if self.selected == selected:
                            self.detail = detail
                            self.stream_text = self._raw_page().stream_text(selected)
                if finished:
                    outputs = await blocking(data.outputs, client(), run_id)
                    async with self:
                        self.outputs = outputs
                if ended:
                    return
        finally:
            pump.cancel()
            if ticker is not None:
                ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump

    def _reset(self) -> None:
        self.loading, self.found = True, True
        self.workflow = self.workflow_href = self.version = self.run_status = ""
        self.trigger = self.owner = self.started_by = self.source_href = ""
        self.created = self.elapsed = self.error = self.progress = self.wake = ""
        self.maps, self.status_counts, self.cancel_confirm = [], [], False
        self._share_new_id = 0
        self.message = self.live_error = self.selected = ""
        self.share_open, self.share_url, self.share_message, self.share_links = False, "", "", []
        self.cancel_requested = False
        self.inputs, self.outputs, self.waits = [], [], []
        self.flow_nodes, self.flow_edges, self.timeline_rows = [], [], []
        self.detail = data.NodeDetail()
        self.stream_text = ""
        self.collapsed = []
        self.graph_query = self.graph_found = ""
        self.last_seq = 0
        self._page = None
        self.replay_of = ""
        self._close_replay()

    def _start(self, header: data.RunHeader) -> None:
        self.workflow, self.version = header.workflow, fmt.short(header.version)
        self.workflow_href = fmt.workflow_href(header.workflow)
        self.run_status, self.trigger, self.owner = header.status, header.trigger, header.owner
        self.started_by = header.started_by
        self.started_by_href = header.started_by_href
        self.source_href = header.source_href
        self.created, self.inputs = header.created, header.inputs
        self.parent_line, self.parent_href = header.parent, header.parent_href
        self.children = header.children
        self._version_id = header.version_id
        self.replay_of = header.replay_of
        self._page = RunPage.create(header.spec, redactor=header.shown)

    def _raw_page(self) -> RunPage:
        # backend vars come wrapped in change-tracking proxies: far too slow for a loop
        # over hundreds of nodes, and nothing here needs tracking
        page = self._page
        assert page is not None
        return getattr(page, "__wrapped__", page)

    def _render(self) -> set[str]:
        """Assign what changed on the page (each assignment is sent whole); their names."""
        if self._page is None:
            return set()
        changed = self._raw_page().render(self.selected, query=self.graph_query)
        for name, value in changed.items():
            setattr(self, name, value)
        if self.message == CANCEL_REQUESTED and self.run_status in RUN_FINISHED:
            self.message = ""  # the cancel happened: the run's status says so
        return set(changed)

    # -- node panel ------------------------------------------------------------------------

    async def select_node(self, node: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        async for update in self._select(str(node.get("id", ""))):
            yield update

    async def select_name(self, name: str) -> AsyncIterator[EventSpec | None]:
        async for update in self._select(name):
            yield update

    async def follow_address(self) -> AsyncIterator[EventSpec | None]:
        """Back or Forward between two selections on this page (entries ``_select`` made
        without a navigation, so the router does not reload the page for them): select the
        node the address names now, recording nothing."""
        if self._page is None:
            return
        order = set(self._raw_page().order)
        name = urls.selected_node(self.router.url.query_parameters, order)
        if name == self.selected:
            return
        if not name:
            self._close_detail()
            return
        async for update in self._select(name, record=False):
            yield update

    async def _select(self, name: str, record: bool = True) -> AsyncIterator[EventSpec | None]:
        if not name or self._page is None:
            return
        allowed, why = await permitted(self, "read", "read runs")
        if allowed is None:
            self.message = why
            return
        push = None
        if name != self.selected:
            self._close_replay()
            if record:  # a new entry: Back returns to the node selected before
                push = _push_address(urls.run_href(self.run_id, name))  # type: ignore[attr-defined]
        self.selected, self.detail_loading, self.collapsed = name, True, []
        self.stream_text = self._raw_page().stream_text(name)
        self._render()
        yield push
        spec = self._raw_page().spec
        self.detail = await blocking(data.node_detail, client(), self.run_id, name, spec)  # type: ignore[attr-defined]
        self.detail_loading = False

    async def element_page(self, step: int) -> None:
        """Page through the selected map node's elements (``step``: -1 back, 1 on)."""
        if not self.selected:
            return
        offset = max(0, self.detail.map.offset + step * PAGE_SIZE)
        run_id = self.run_id  # type: ignore[attr-defined]
        self.detail.map = await blocking(data.map_panel, client(), run_id, self.selected, offset)

    def close_detail(self) -> Any:
        was = self.selected
        self._close_detail()
        return _push_address(urls.run_href(self.run_id)) if was else None  # type: ignore[attr-defined]

    def _close_detail(self) -> None:
        self._close_replay()
        self.selected = ""
        self.detail = data.NodeDetail()
        self.stream_text = ""
        self._render()

    def search_graph(self, value: str) -> Any:
        """Highlight the nodes ``value`` finds and bring the first into view."""
        self.graph_query = value
        found = layout.matching(self._raw_page().order, value) if self._page else []
        self.graph_found = (
            "" if not value.strip() else f"{len(found)} found" if found else "no node found"
        )
        self._render()
        return _focus(found[0]) if found else None

    def toggle_json(self, path: str) -> None:
        if path in self.collapsed:
            self.collapsed = [p for p in self.collapsed if p != path]
        else:
            self.collapsed = [*self.collapsed, path]

    def set_direction(self, value: str | list[str]) -> None:
        if not isinstance(value, str) or value not in ("LR", "TB") or value == self.direction:
            return
        if self._page is not None:
            self._raw_page().turn(value)  # type: ignore[arg-type]
            self._render()

    # -- actions ---------------------------------------------------------------------------

    async def submit_wait(self, form_data: dict[str, Any]) -> None:
        node = str(form_data.get(forms.NODE_FIELD, ""))
        allowed, why = await permitted(self, "write", "answer waits", target=self.run_id)  # type: ignore[attr-defined]
        if allowed is None:
            self.message = why
            return
        form = next((f for f in self.waits if f.node == node), None)
        if form is None:
            self.message = f"{node} is no longer waiting"
            return
        nodes = self._raw_page().spec["nodes"]
        schema = next(n for n in nodes if n["name"] == node).get("schema", {})
        payload, errors = forms.payload_from_form(form.fields, form_data)
        message = ""
        if not errors:
            try:
                await blocking(
                    client().resume,
                    self.run_id,  # type: ignore[attr-defined]
                    node,
                    forms.restore_choices(payload, schema),
                    answered_by=allowed.actor,
                )
            except PayloadError as exc:
                errors = forms.field_errors(exc.errors)
                message = errors.pop(forms.GENERAL, "") or "please correct the fields marked"
            except PlaitError as exc:
                message = str(exc)
            else:
                message = "submitted"
                await record(self, allowed, "run.resume", f"{self.run_id} {node}")  # type: ignore[attr-defined]
        else:
            message = "please correct the fields marked"
        self.waits = [
            dataclasses.replace(w, fields=forms.with_errors(w.fields, errors), message=message)
            if w.node == node
            else w
            for w in self.waits
        ]

    def ask_cancel(self, value: bool = True) -> None:
        self.cancel_confirm = value

    async def cancel_run(self) -> None:
        self.cancel_confirm = False
        run_id = self.run_id  # type: ignore[attr-defined]
        allowed, why = await permitted(self, "write", "cancel runs", target=run_id)
        if allowed is None:
            self.message = why
            return
        try:
            status = await blocking(client().cancel, run_id)
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, allowed, "run.cancel", run_id)
        self.message = "cancelled" if status == "cancelled" else CANCEL_REQUESTED

    @rx.var
    def retryable(self) -> bool:
        return self.run_status in RUN_RETRYABLE

    async def retry_run(self) -> Any:
        """Continue this run from its failure; the page follows it live again (its listener
        ended with the run)."""
        run_id = self.run_id  # type: ignore[attr-defined]
        allowed, why = await permitted(self, "write", "retry runs", target=run_id)
        if allowed is None:
            self.message = why
            return None
        try:
            await blocking(lambda: client().retry(run_id, retried_by=allowed.actor))
        except PlaitError as exc:
            self.message = f"could not retry: {exc}"
            return None
        await record(self, allowed, "run.retry", run_id)
        return RunState.listen

    async def rerun_run(self) -> Any:
        """Start a new run with the same inputs, and go to it."""
        run_id = self.run_id  # type: ignore[attr-defined]
        allowed, why = await permitted(self, "write", "rerun runs", target=run_id)
        if allowed is None:
            self.message = why
            return None
        try:
            new = await blocking(
                lambda: client().rerun(run_id, trigger="studio", owner=allowed.actor)
            )
        except PlaitError as exc:
            self.message = f"could not rerun: {exc}"
            return None
        await record(self, allowed, "run.rerun", run_id, new=new.id)
        return rx.redirect(f"/runs/{new.id}")

    # -- replay from here ------------------------------------------------------------------

    def open_replay(self) -> None:
        self._close_replay()
        self.replay_open = True

    def close_replay(self) -> None:
        self._close_replay()

    def _close_replay(self) -> None:
        """Hide the form, and the plan from the graph (the next render draws the statuses)."""
        self.replay_open, self.replay_planned = False, False
        self.replay_rows, self.replay_summary, self.replay_message = [], "", ""
        self._replay_args = None
        if self._page is not None:
            self._raw_page().shown.pop("flow_nodes", None)
            self._render()

    def replay_form_changed(self, _value: Any = None) -> None:
        """An edit after the preview: the plan shown no longer says what would run."""
        if self.replay_planned:
            self.replay_planned = False
            self.replay_message = "the form changed: preview the plan again"

    async def preview_replay(self, form_data: dict[str, Any]) -> None:
        """Draw on the graph what a replay from the selected node would reuse and re-run."""
        run_id = self.run_id  # type: ignore[attr-defined]
        allowed, why = await permitted(self, "write", "replay runs", target=run_id)
        if allowed is None:
            self.replay_message = why
            return
        args, problem = replay_logic.args_from_form(self.selected, form_data)
        if args is None:
            self.replay_message, self.replay_planned = problem, False
            return
        try:
            plan = await blocking(lambda: client().replay_plan(run_id, **args.kwargs()))
        except PlaitError as exc:
            self.replay_message, self.replay_planned = f"cannot replay: {exc}", False
            return
        page = self._raw_page()
        self.replay_rows = replay_logic.plan_rows(page.order, plan.reused, plan.rerun)
        self.replay_summary = replay_logic.plan_summary(plan.reused, plan.rerun)
        self.flow_nodes = replay_logic.overlay(
            page.shown.get("flow_nodes", self.flow_nodes), plan.reused, plan.rerun
        )
        page.shown.pop("flow_nodes", None)  # the next render draws the statuses again
        self._replay_args, self.replay_planned = args, True
        self.replay_message = ""

    async def confirm_replay(self) -> Any:
        """Start the replay previewed, and go to it."""
        run_id = self.run_id  # type: ignore[attr-defined]
        allowed, why = await permitted(self, "write", "replay runs", target=run_id)
        if allowed is None:
            self.replay_message = why
            return None
        args = self._replay_args
        if args is None or not self.replay_planned:
            self.replay_message = "preview the plan first"
            return None
        try:
            new = await blocking(
                lambda: client().replay(
                    run_id, **args.kwargs(), trigger="studio", owner=allowed.actor
                )
            )
        except PlaitError as exc:
            self.replay_message = f"could not replay: {exc}"
            return None
        await record(self, allowed, "run.replay", run_id, new=new.id)
        self._close_replay()
        return rx.redirect(f"/runs/{new.id}")

    # -- share links -----------------------------------------------------------------------

    async def open_share(self) -> None:
        allowed, why = await permitted(self, "read", "read share links")
        if allowed is None:
            self.message = why
            return
        self.share_open, self.share_url, self.share_message = True, "", ""
        await self._load_share_links()

    def set_share_open(self, value: bool) -> None:
        self.share_open = value
        if not value:
            self.share_url = ""  # the token is shown once

    def set_share_lifetime(self, value: str | list[str]) -> None:
        if isinstance(value, str) and value in SHARE_LIFETIMES:
            self.share_lifetime = value

    async def share_run(self) -> None:
        """A new read-only link (``runtime.sharing``), served by the studio at /r/<token>."""
        allowed, why = await permitted(self, "write", "share runs", target=self.run_id)  # type: ignore[attr-defined]
        if allowed is None:
            self.share_message = why
            return
        try:
            _token, path = await blocking(
                sharing.create_link,
                self.run_id,  # type: ignore[attr-defined]
                expires_in=sharing.parse_lifetime(SHARE_LIFETIMES[self.share_lifetime]),
                created_by=allowed.actor,
                client=client(),
            )
        except PlaitError as exc:
            self.share_message = str(exc)
            return
        self.share_url = self.router.url.origin + path
        self.share_message = ""
        await record(self, allowed, "share.create", self.run_id)  # type: ignore[attr-defined]
        await self._load_share_links()
        self._share_new_id = max((link.id for link in self.share_links), default=0)

    async def revoke_share(self, link_id: int) -> None:
        allowed, why = await permitted(self, "write", "revoke share links", target=self.run_id)  # type: ignore[attr-defined]
        if allowed is None:
            self.share_message = why
            return
        try:
            await blocking(
                sharing.revoke_link,
                link_id,
                run_id=self.run_id,  # type: ignore[attr-defined]
                client=client(),
            )
        except NotFound:
            self.share_message = f"link {link_id} was already revoked"
        else:
            self.share_message = f"link {link_id} revoked: it no longer opens"
            if link_id == self._share_new_id:
                self.share_url, self._share_new_id = "", 0  # a dead link is not to be copied
            await record(self, allowed, "share.revoke", f"{self.run_id} link {link_id}")  # type: ignore[attr-defined]
        await self._load_share_links()

    async def _load_share_links(self) -> None:
        self.share_links = await blocking(data.share_links, client(), self.run_id)  # type: ignore[attr-defined]


def _push_address(href: str) -> EventSpec:
    """A new history entry for ``href`` without a navigation: selecting a node must not
    restart the page's listener (a router navigation would, re-reading every event), and
    Back, which does navigate, comes back to the previous selection through ``listen``.
    React Router's entry index is carried on so its own bookkeeping stays right."""
    target = json.dumps(href)
    return rx.call_script(
        "(() => { const s = window.history.state || {};"
        f" if (window.location.pathname + window.location.search !== {target})"
        f" window.history.pushState({{...s, idx: (s.idx || 0) + 1}}, '', {target}); }})()"
    )


ADDRESS_BUTTON = "plait-address-changed"
"""The run page's hidden button ``ADDRESS_SCRIPT`` clicks (it calls ``follow_address``)."""

ADDRESS_SCRIPT = f"""
window.addEventListener('popstate', () => {{
  const button = document.getElementById('{ADDRESS_BUTTON}');
  const path = (p) => p.replace(/\\/+$/, '');
  if (button && path(button.dataset.path || '') === path(window.location.pathname)) button.click();
}});
"""
"""Back or Forward that stays on the run page in view tells it (a document listener, in the
page head: the entries ``_push_address`` makes are unknown to the router)."""


def _focus(node: str) -> EventSpec:
    """Centre the graph on ``node`` (the view's React Flow instance: see graph_view)."""
    target = json.dumps(node)
    return rx.call_script(
        "(() => { const f = window.plaitFlow;"
        f" if (f) f.fitView({{nodes: [{{id: {target}}}], duration: 300, maxZoom: 1.2}}); }})()"
    )


def push_interval(nodes: int) -> float:
    """Shortest time between two updates of a run page: a redraw costs the browser about
    0.25 ms per node here, so a 300-node graph gets at most ~13 updates a second and a small
    one 50. A lone event is never held back."""
    return max(0.02, nodes * 0.00025)


async def _tick(queue: asyncio.Queue[Any]) -> None:
    while True:
        await asyncio.sleep(CHILD_TICK_SECONDS)
        queue.put_nowait(_TICK)


async def _pump(run_id: str, queue: asyncio.Queue[Any]) -> None:
    """Events of the run onto ``queue``, then ``_END`` (or the error that stopped them)."""
    try:
        event: EventDict
        async for event in Run(client(), run_id).aevents(stop_at_end=True, tokens=True):
            queue.put_nowait(event)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("run %s: following its events failed", run_id)
        queue.put_nowait(exc)
        return
    queue.put_nowait(_END)
