"""The workflow page: its graph, versions (view one, diff two), its runs, and the Run form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import reflex as rx

from runtime import catalog
from runtime.errors import NotFound, PlaitError
from studio import data
from studio.logic import diff, fmt, forms, layout
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


@dataclass
class Loaded:
    """What the page shows for one version of one workflow."""

    description: str
    versions: list[VersionItem]
    version: str
    version_id: int
    spec: dict[str, Any]
    fields: list[forms.FormField]


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
        )
        for i, v in enumerate(infos)
    ]
    return Loaded(
        description=chosen.spec.get("description", ""),
        versions=versions,
        version=chosen.version,
        version_id=chosen.id,  # type: ignore[arg-type]
        spec=chosen.spec,
        fields=data.run_form_fields(c, chosen.id, chosen.spec),  # type: ignore[arg-type]
    )


def load_diff(name: str, old: str, new: str) -> list[diff.DiffRow]:
    c = client()
    return diff.diff_specs(
        catalog.version(c.store, name, old).spec, catalog.version(c.store, name, new).spec
    )


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

    _spec: dict[str, Any] = {}
    _version_id: int = 0

    @rx.var
    def workflow_name(self) -> str:
        return str(self.wf_name)  # type: ignore[attr-defined]

    @rx.var
    def runs_href(self) -> str:
        return fmt.runs_href(str(self.wf_name))  # type: ignore[attr-defined]

    @rx.var
    def graph_key(self) -> str:
        return f"{self.wf_name}-{self.version}-{self.direction}"  # type: ignore[attr-defined]

    @rx.var
    def version_options(self) -> list[str]:
        return [v.version for v in self.versions]

    def _show(self, loaded: Loaded) -> None:
        self.description = loaded.description
        self.versions = loaded.versions
        self.version = loaded.version
        self._version_id = loaded.version_id
        self._spec = loaded.spec
        self.node_count = len(loaded.spec["nodes"])
        self.input_count = len(loaded.spec.get("inputs", {}))
        self.fields = loaded.fields
        self.form_message = ""
        self._draw()

    def _draw(self) -> None:
        placed = layout.place(self._spec, self.direction)  # type: ignore[arg-type]
        self.flow_nodes = layout.flow_nodes(placed, {}, "", self.direction)  # type: ignore[arg-type]
        self.flow_edges = layout.flow_edges(self._spec, {})

    @rx.event(background=True)
    async def listen(self) -> None:
        async with self:
            name = self.wf_name  # type: ignore[attr-defined]
            self.loading, self.found, self.runs, self.diff_rows = True, True, [], []
            self.diff_summary = ""
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
            rows = await blocking(load_diff, name, versions[1], versions[0])
            async with self:
                self._show_diff(rows)
        async with doorbell() as rang:
            while True:
                runs = await blocking(load_runs, name)
                async with self:
                    if runs != self.runs:
                        self.runs = runs
                await rang(RESYNC_SECONDS)

    async def select_version(self, version: str) -> None:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        loaded = await blocking(load, self.wf_name, version)  # type: ignore[attr-defined]
        if loaded is not None:
            self._show(loaded)

    def set_direction(self, value: str | list[str]) -> None:
        if isinstance(value, str) and value in ("LR", "TB") and value != self.direction:
            self.direction = value
            if self._spec:
                self._draw()

    def _show_diff(self, rows: list[diff.DiffRow]) -> None:
        self.diff_rows = [r for r in rows if r.change != "same"]
        self.diff_summary = diff.summary(rows)

    async def set_diff_old(self, value: str) -> None:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        self.diff_old = value
        self._show_diff(await blocking(load_diff, self.wf_name, self.diff_old, self.diff_new))  # type: ignore[attr-defined]

    async def set_diff_new(self, value: str) -> None:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        self.diff_new = value
        self._show_diff(await blocking(load_diff, self.wf_name, self.diff_old, self.diff_new))  # type: ignore[attr-defined]

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
