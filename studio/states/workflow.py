"""The workflow page: its graph, versions (view one, diff two), its runs, and the Run form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import reflex as rx

from runtime import catalog, drafts
from runtime.errors import NotFound, PlaitError
from studio import data
from studio.logic import diff, fmt, forms, layout
from studio.logic.version_node import NodeView, node_view
from studio.states.base import RESYNC_SECONDS, blocking, client, doorbell, permitted, record
from studio.states.runs import RunItem, run_item


@dataclass
class VersionItem:
    version: str
    short: str
    created: str
    publisher: str
    """Who published it ("-" when not recorded)."""
    nodes: int
    runs: int
    latest: bool
    current: bool
    """The version runs by name and triggers start."""
    message: str


@dataclass
class Loaded:
    """What the page shows for one version of one workflow."""

    description: str
    versions: list[VersionItem]
    version: str
    version_id: int
    spec: dict[str, Any]
    sources: dict[str, str]
    fields: list[forms.FormField]
    archived: bool


def load(name: str, version: str | None) -> Loaded | None:
    c = client()
    try:
        infos = catalog.versions(c.store, name)
        chosen = catalog.version(c.store, name, version or None)
    except NotFound:
        return None
    versions = [
        VersionItem(
            v.version,
            fmt.short(v.version),
            fmt.timestamp(v.created_at),
            v.created_by or "-",
            v.node_count,
            v.runs,
            i == 0,
            v.current,
            v.message or "",
        )
        for i, v in enumerate(infos)
    ]
    archived = c.store.workflow(name).archived_at is not None
    return Loaded(
        description=chosen.spec.get("description", ""),
        versions=versions,
        version=chosen.version,
        version_id=chosen.id,  # type: ignore[arg-type]
        spec=chosen.spec,
        sources=catalog.shown_sources(chosen),
        fields=data.run_form_fields(c, chosen.id, chosen.spec),  # type: ignore[arg-type]
        archived=archived,
    )


@dataclass
class Compared:
    old: dict[str, Any]
    new: dict[str, Any]
    rows: list[diff.DiffRow]
    old_sources: dict[str, str]
    new_sources: dict[str, str]

    def node(self, name: str) -> NodeView:
        """A node of the diff graph as the newer version has it (a removed one: the older)."""
        if any(n["name"] == name for n in self.new["nodes"]):
            return node_view(self.new, name, self.new_sources)
        return node_view(self.old, name, self.old_sources)


def load_diff(name: str, old: str, new: str) -> Compared:
    store = client().store
    a, b = catalog.version(store, name, old), catalog.version(store, name, new)
    found = drafts.diff_versions(a, b).shown()
    rows = diff.rows(found, a.spec, b.spec)
    return Compared(a.spec, b.spec, rows, catalog.shown_sources(a), catalog.shown_sources(b))


def load_runs(name: str) -> list[RunItem]:
    return [run_item(r) for r in data.workflow_runs(client(), name)]


class WorkflowState(rx.State):
    loading: bool = True
    found: bool = True
    description: str = ""
    versions: list[VersionItem] = []
    version: str = ""
    node_count: int = 0
    input_count: int = 0
    flow_nodes: list[dict[str, Any]] = []
    flow_edges: list[dict[str, Any]] = []
    direction: str = "LR"
    fields: list[forms.FormField] = []
    form_message: str = ""
    starting: bool = False
    runs: list[RunItem] = []
    diff_old: str = ""
    diff_new: str = ""
    diff_rows: list[diff.DiffRow] = []
    diff_summary: str = ""
    diff_on_graph: bool = False
    """The graph shows both compared versions, their changes marked."""
    archived: bool = False
    picked: NodeView = NodeView()

    _spec: dict[str, Any] = {}
    _sources: dict[str, str] = {}
    _version_id: int = 0
    _compared: Compared | None = None

    @rx.var
    def workflow_name(self) -> str:
        return str(self.wf_name)  # type: ignore[attr-defined]

    @rx.var
    def runs_href(self) -> str:
        return fmt.runs_href(str(self.wf_name))  # type: ignore[attr-defined]

    @rx.var
    def graph_key(self) -> str:
        return f"{self.wf_name}-{self.version}-{self.direction}-{self.diff_on_graph}"  # type: ignore[attr-defined]

    @rx.var
    def editor_href(self) -> str:
        return fmt.editor_href(str(self.wf_name))  # type: ignore[attr-defined]

    @rx.var
    def version_options(self) -> list[str]:
        return [v.version for v in self.versions]

    def _show(self, loaded: Loaded) -> None:
        self.description = loaded.description
        self.versions = loaded.versions
        self.version = loaded.version
        self._version_id = loaded.version_id
        self._spec = loaded.spec
        self._sources = loaded.sources
        self.archived = loaded.archived
        if self.picked.name and not self.diff_on_graph:
            self.picked = node_view(loaded.spec, self.picked.name, loaded.sources)
        self.node_count = len(loaded.spec["nodes"])
        self.input_count = len(loaded.spec.get("inputs", {}))
        self.fields = loaded.fields
        self.form_message = ""
        self._draw()

    def _draw(self) -> None:
        direction: layout.Direction = "TB" if self.direction == "TB" else "LR"
        if self.diff_on_graph and self._compared is not None:
            c = self._compared
            self.flow_nodes, self.flow_edges = diff.diff_graph(
                c.old, c.new, c.rows, direction, self.picked.name
            )
            return
        placed = layout.place(self._spec, direction)
        self.flow_nodes = layout.flow_nodes(placed, {}, self.picked.name, direction)
        self.flow_edges = layout.flow_edges(self._spec, {})

    def pick_node(self, node: dict[str, Any]) -> None:
        name = str(node.get("id", ""))
        c = self._compared
        if self.diff_on_graph and c is not None:  # the diff graph draws the compared two
            self.picked = c.node(name)
        else:
            self.picked = node_view(self._spec, name, self._sources)
        self._draw()

    def close_node(self) -> None:
        self.picked = NodeView()
        self._draw()

    def set_diff_on_graph(self, value: bool) -> None:
        self.diff_on_graph = bool(value) and self._compared is not None
        self._draw()

    @rx.event(background=True)
    async def listen(self) -> None:
        async with self:
            name = self.wf_name  # type: ignore[attr-defined]
            self.loading, self.found, self.runs, self.diff_rows = True, True, [], []
            self.diff_summary, self.diff_on_graph, self._compared = "", False, None
            self.picked = NodeView()
            allowed, _ = await permitted(self, "read", "read workflows")
        if allowed is None:
            return
        loaded = await blocking(load, name, None)
        async with self:
            if loaded is None:
                self.found, self.loading = False, False
                return
            self.direction = layout.auto_direction(loaded.spec)
            self._show(loaded)
            versions = [v.version for v in loaded.versions]
            self.diff_new = versions[0]
            self.diff_old = versions[1] if len(versions) > 1 else versions[0]
            self.loading = False
        if len(versions) > 1:
            compared = await blocking(load_diff, name, versions[1], versions[0])
            async with self:
                self._show_diff(compared)
        async with doorbell() as rang:
            while True:
                runs = await blocking(load_runs, name)
                async with self:
                    if runs != self.runs:
                        self.runs = runs
                await rang(RESYNC_SECONDS)

    async def select_version(self, version: str) -> None:
        await self._select(version)

    async def _select(self, version: str) -> bool:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return False
        loaded = await blocking(load, self.wf_name, version)  # type: ignore[attr-defined]
        if loaded is not None:
            self._show(loaded)
        return True

    async def reload(self) -> None:
        """After a change of the workflow (made current, archived): the version shown kept."""
        if await self._select(self.version) and self.diff_old and self.diff_new:
            await self._load_diff()

    def set_direction(self, value: str | list[str]) -> None:
        if isinstance(value, str) and value in ("LR", "TB") and value != self.direction:
            self.direction = value
            if self._spec:
                self._draw()

    def _show_diff(self, compared: Compared) -> None:
        self._compared = compared
        self.diff_rows = [r for r in compared.rows if r.change != "same"]
        self.diff_summary = diff.summary(compared.rows)
        if self.diff_on_graph:
            self._draw()

    async def _load_diff(self) -> None:
        name = str(self.wf_name)  # type: ignore[attr-defined]
        self._show_diff(await blocking(load_diff, name, self.diff_old, self.diff_new))

    async def set_diff_old(self, value: str) -> None:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        self.diff_old = value
        await self._load_diff()

    async def set_diff_new(self, value: str) -> None:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        self.diff_new = value
        await self._load_diff()

    async def start_run(self, form_data: dict[str, Any]) -> AsyncIterator[Any]:
        name = str(self.wf_name)  # type: ignore[attr-defined]
        allowed, why = await permitted(self, "write", "start runs", target=name)
        if allowed is None:
            self.form_message = why
            return
        inputs, errors = forms.inputs_from_form(self.fields, form_data)
        self.fields = forms.with_errors(self.fields, errors)
        if errors:
            self.form_message = "please correct the fields marked"
            return
        self.starting, self.form_message = True, ""
        yield
        try:
            run = await blocking(
                client().start_version,
                self._version_id,
                inputs,
                trigger="studio",
                owner=allowed.actor,
            )
        except PlaitError as exc:
            # ill-typed inputs: each message next to its field, as the form's own checks are
            self.fields = forms.with_errors(self.fields, getattr(exc, "problems", {}))
            self.form_message = str(exc)
            self.starting = False
            return
        self.starting = False
        await record(self, allowed, "run.start", name, run=run.id)
        yield rx.redirect(f"/runs/{run.id}")
