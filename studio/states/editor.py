"""The editor page: one workflow document being built (``studio.logic.editor``), its undo
history, its problems as the runtime finds them, and a test run's live statuses."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import reflex as rx

from runtime import catalog, drafts, redaction, secrets
from runtime.auth.roles import Principal
from runtime.errors import NotFound, PlaitError
from runtime.redaction import DEFAULT
from runtime.statuses import NODE_SUCCEEDED
from runtime.store.tables import WorkflowVersion
from studio.logic import (
    editor,
    editor_check,
    editor_drafts,
    editor_forms,
    editor_policies,
    editor_readonly,
    editor_view,
    forms,
    live,
)
from studio.logic.editor_history import History
from studio.logic.preview import Preview, preview
from studio.logic.version_node import NodeView, node_view
from studio.states.base import blocking, client, gate, permitted, record, session_token

PALETTE = editor.palette()
"""Kinds registered when the studio starts (plug-ins included)."""


@dataclass
class ProblemRow:
    node: str
    message: str


@dataclass
class InputRow:
    index: int
    name: str
    type: str
    default: str
    description: str


@dataclass
class PaletteGroup:
    name: str
    kinds: list[editor.PaletteItem]


CONFLICT = "someone else saved this draft: reload to see their changes"
READ_ONLY = "read only: this version is not edited here"


@dataclass
class Loaded:
    """What the editor opens: a document, and when it is a version shown read only, that
    version (its spec and the sources its Python nodes run, redacted)."""

    doc: editor.Document
    revision: int | None
    """The draft's revision (``None``: no draft yet)."""
    note: str
    banner: str = ""
    """Why the document is read only here (empty: it is edited)."""
    python: list[str] = dataclass_field(default_factory=list)
    spec: dict[str, Any] = dataclass_field(default_factory=dict)
    sources: dict[str, str] = dataclass_field(default_factory=dict)
    version: str = ""
    """The version shown read only."""
    openable: bool = False
    """It is made of library nodes: "Open as draft" makes it the draft."""


def load_document(name: str, version: str | None = None) -> Loaded:
    """The draft of ``name`` as a document with its revision; without a draft, its current
    published version (no revision: the first save makes the draft), or a new document.
    ``version`` (a hash or a prefix), or a current version defined in Python code (function
    nodes a draft cannot hold), is shown read only."""
    store = client().store
    try:
        saved = store.draft(name)
    except NotFound:
        saved = None
    revision = None if saved is None else saved.revision
    if version:
        try:
            found = catalog.version(store, name, version)
        except NotFound as exc:
            return Loaded(editor.new_document(name), revision, str(exc), banner=str(exc))
        return _read_only(found, revision)
    if saved is not None:
        doc = editor_drafts.from_draft({**saved.spec, "name": name})
        return Loaded(doc, saved.revision, f"draft of {name}, revision {saved.revision}")
    try:
        found = catalog.version(store, name, None)
    except NotFound:
        return Loaded(editor.new_document(name), None, "")
    shown = editor_readonly.version_document(found.spec)
    if not shown.draftable:
        return _read_only(found, None, shown)
    return Loaded(shown.doc, None, f"opened version {found.version[:8]} of {name}")


def _read_only(
    found: WorkflowVersion,
    revision: int | None,
    shown: editor_readonly.VersionDocument | None = None,
) -> Loaded:
    shown = shown or editor_readonly.version_document(found.spec)
    name = str(found.spec.get("name") or "")
    # a key typed into a function's body never reaches the page (as ``catalog.node_source``)
    sources = {k: DEFAULT.text(v) for k, v in (found.node_sources or {}).items()}
    return Loaded(
        shown.doc,
        revision,
        f"version {found.version[:8]} of {name}",
        banner=editor_readonly.VERSION_BANNER if shown.draftable else editor_readonly.PYTHON_BANNER,
        python=shown.python,
        spec=dict(found.spec),
        sources=sources,
        version=found.version,
        openable=shown.draftable,
    )


def secret_names() -> list[str]:
    """The names of the stored secrets (what a secret field offers)."""
    c = client()
    return [s.name for s in secrets.Secrets(c.store, c.settings).list()]


def test_run_output(run_id: str, node: str) -> tuple[str, Preview]:
    """What a test run made of ``node``: a note (its status) and its output's preview,
    redacted as the run page shows it."""
    run = client().get_run(run_id)
    found = run.nodes.get(node)
    if found is None:
        return "not in the last test run", Preview()
    if found.status not in NODE_SUCCEEDED:
        return f"{found.status} in the last test run", Preview()
    value = redaction.for_run(run).value(run.output(node))
    return "output of the last test run", preview(value)


def save_document(name: str, doc: editor.Document, revision: int | None, by: str | None) -> int:
    """Save ``doc`` as the draft of workflow ``name`` from ``revision``; the new revision
    (``DraftConflict`` when someone saved in between: nothing is written)."""
    draft = {**editor_drafts.to_draft(doc), "name": name}
    # every edit was checked as it was made (``editor_check``): not validated twice
    saved, _ = drafts.save_draft(client(), name, draft, revision, by, checked=True)
    return saved.revision


def saves(fn: Callable[..., None]) -> Callable[..., Iterator[None]]:
    """An editing handler that answers the browser first, then saves the draft (the save
    reads and writes the store: the canvas need not wait for it)."""

    @functools.wraps(fn)
    def handler(self: EditorState, *args: Any, **kwargs: Any) -> Iterator[None]:
        if self.read_only:
            # refused here, whatever the browser sends: the page only hides the controls
            self.note = READ_ONLY
            return
        fn(self, *args, **kwargs)
        if self._unsaved:
            yield
            self._flush()

    return handler


class EditorState(rx.State):
    query: str = ""
    title: str = "untitled"
    note: str = ""
    flow_nodes: list[dict[str, Any]] = []
    flow_edges: list[dict[str, Any]] = []
    problems: list[ProblemRow] = []
    check_ms: str = ""
    selected: str = ""
    selected_kind: str = ""
    picked_count: int = 0
    config: list[editor_forms.ConfigField] = []
    config_error: str = ""
    references: list[str] = []
    """What the selected node's expressions may name (``nodes.x.output``, ``inputs.y``)."""
    form_key: int = 0
    """Changes when the inputs must show the document afresh (another node, an undo)."""
    inputs: list[InputRow] = []
    can_undo: bool = False
    can_redo: bool = False
    fit: int = 0
    focus: str = ""
    run_fields: list[forms.FormField] = []
    run_message: str = ""
    run_id: str = ""
    run_output: Preview = Preview()
    """The selected node's output in the last test run (kind ``none``: it has none)."""
    run_output_note: str = ""
    run_status: str = ""
    running: bool = False
    revision: int = 0
    """Counts the document's checks (what a benchmark or a test waits on)."""
    workflow: str = ""
    """The workflow whose draft this is (the page's name)."""
    draft_status: str = ""
    conflict: str = ""
    """Set when a save found the draft changed by someone else; no save happens until a
    reload."""
    publish_open: bool = False
    publish_note: str = ""
    publish_problems: list[str] = []
    read_only: bool = False
    """A version shown, not edited: every editing handler refuses."""
    banner: str = ""
    """Why it is read only."""
    can_open_draft: bool = False
    """The version shown is of library nodes and the user may write: "Open as draft"."""
    shown_version: str = ""
    detail: NodeView = NodeView()
    """The node picked in a read-only view: its source, options, wiring, policies."""
    policies: list[editor_policies.PolicyField] = []

    _history: History | None = None
    _statuses: dict[str, str] = {}
    _picked: list[str] = []
    _picked_edges: list[str] = []
    _clip: dict[str, Any] = {}
    _wired: list[list[str]] = []
    _focus_n: int = 0
    _draft_rev: int | None = None
    _actor: str | None = None
    _can_edit: bool = False
    _unsaved: bool = False
    _secret_names: list[str] | None = None
    """The stored secrets' names, for editors (``None``: a viewer is not told them)."""
    _python: list[str] = []
    _spec: dict[str, Any] = {}
    _sources: dict[str, str] = {}
    _policy_errors: dict[str, str] = {}

    # -- what the page shows ------------------------------------------------------------------

    @rx.var
    def palette_groups(self) -> list[PaletteGroup]:
        found = editor.search(PALETTE, self.query)
        groups: dict[str, list[editor.PaletteItem]] = {}
        for item in found:
            groups.setdefault(item.group, []).append(item)
        return [PaletteGroup(name, items) for name, items in groups.items()]

    @rx.var
    def problem_count(self) -> int:
        return len(self.problems)

    @rx.var
    def node_count(self) -> int:
        return len(self.flow_nodes)

    @property
    def doc(self) -> editor.Document:
        if self._history is None:
            self._history = History(editor.new_document(self.title))
        return self._history.present

    def _commit(self, doc: editor.Document) -> None:
        assert self._history is not None
        if self.read_only:
            return
        if self._history.record(doc):
            self._refresh()
            self._unsaved = True

    def _flush(self) -> bool:
        """Save what is not saved yet; whether the draft now holds the document."""
        if not self._unsaved:
            return True
        self._unsaved = False
        if not self._save():
            self._unsaved = True
            return False
        return True

    def _save(self) -> bool:
        """Every committed edit goes to the server-side draft, from the revision loaded or
        last saved: a stale one (another tab saved) raises the conflict banner instead.
        Whether it was saved."""
        if self.conflict or self.read_only or not self._can_edit or not self.workflow:
            return False
        # checked on every save, as every handler checks: a logout or a lost role counts now
        found = gate().principal(session=session_token(self.router.headers.cookie))
        if found is None or not found.may("write"):
            self._can_edit = False
            self.draft_status = "not saved: saving the draft takes the editor role"
            return False
        self._actor = found.actor
        try:
            self._draft_rev = save_document(self.workflow, self.doc, self._draft_rev, self._actor)
        except drafts.DraftConflict:
            self.conflict = CONFLICT
            self.draft_status = "not saved"
            return False
        except PlaitError as exc:
            self.draft_status = f"not saved: {exc}"
            return False
        self.draft_status = f"saved · revision {self._draft_rev}"
        return True

    def _refresh(self) -> None:
        doc = self.doc
        started = time.perf_counter()
        # a version shown is no draft: it ran as it is, its Python nodes too
        empty = editor_check.Checked([], [], [])
        checked = empty if self.read_only else editor_check.check(doc)
        self.check_ms = f"{(time.perf_counter() - started) * 1000:.1f}"
        self.revision += 1
        self._wired = checked.wired
        self.problems = [ProblemRow(p.node, p.message) for p in checked.problems]
        self._draw(editor_check.by_node(checked.problems))
        self.inputs = [InputRow(i, **row) for i, row in enumerate(doc["inputs"])]
        self.can_undo = bool(self._history and self._history.can_undo)
        self.can_redo = bool(self._history and self._history.can_redo)
        self.run_fields = editor_forms.run_fields(doc, dict.fromkeys(checked.run_inputs))
        self._show_config()

    def _draw(self, errors: dict[str, str] | None = None) -> None:
        if errors is None:
            errors = {p.node: p.message for p in self.problems if p.node}
        self.flow_nodes = editor_view.flow_nodes(
            self.doc, errors, self._statuses, self._picked, self._python
        )
        self.flow_edges = editor_view.flow_edges(self.doc, self._wired, self._statuses)

    def _show_config(self) -> None:
        node = editor.find(self.doc, self.selected) if self.selected else None
        if node is None:
            self.selected, self.selected_kind, self.config, self.references = "", "", [], []
            self.policies, self.detail = [], NodeView()
            return
        self.selected_kind = node["kind"]
        self.policies = editor_policies.policy_fields(node["kind"], node, self._policy_errors)
        if self.read_only:
            spec = self._spec or editor_drafts.to_draft(self.doc)
            self.detail = node_view(spec, node["name"], self._sources)
            self.config, self.references = [], []
            return
        self.config = editor_forms.config_fields(node["kind"], node["config"], self._secret_names)
        self.references = editor_forms.references(self.doc, node["name"], self._wired)

    # -- loading ------------------------------------------------------------------------------

    async def load(self) -> None:
        principal = (await permitted(self, "read", "open the editor"))[0]
        if principal is None:
            return
        name = str(getattr(self, "editor_name", "") or "untitled")
        version = str(self.router.url.query_parameters.get("version") or "") or None
        self._apply(await blocking(load_document, name, version), name, principal)
        # the names only (never a value): an editor picks a node's secret from them
        editing = self._can_edit and not self.read_only
        self._secret_names = await blocking(secret_names) if editing else None
        self._show_config()

    def _apply(self, loaded: Loaded, name: str, principal: Principal) -> None:
        doc = loaded.doc
        self.title, self.note, self.workflow = doc["name"], loaded.note, name
        self._draft_rev, self.conflict = loaded.revision, ""
        self._actor, self._can_edit = principal.actor, principal.may("write")
        self.read_only, self.banner = bool(loaded.banner), loaded.banner
        self.can_open_draft = loaded.openable and self._can_edit
        self.shown_version = loaded.version
        self._python, self._spec, self._sources = loaded.python, loaded.spec, loaded.sources
        if self.read_only:
            self.draft_status = "read only"
        elif self._can_edit:
            self.draft_status = "draft saved" if loaded.revision is not None else "not saved yet"
        else:
            self.draft_status = "read only: editing takes the editor role"
        self.publish_open, self.publish_note, self.publish_problems = False, "", []
        self._history = History(doc)
        self._statuses, self._picked, self._picked_edges = {}, [], []
        self.selected, self.run_id, self.run_status, self.run_message = "", "", "", ""
        self.run_output, self.run_output_note = Preview(), ""
        self._policy_errors, self._unsaved = {}, False
        self.form_key += 1
        self._refresh()
        self.fit += 1

    async def open_as_draft(self) -> Any:
        """The version shown becomes the workflow's draft (from the draft's revision when
        the page loaded: someone's save since raises the conflict banner), then is edited."""
        allowed, why = await permitted(
            self, "write", "open a version as the draft", target=self.workflow
        )
        if allowed is None:
            self.note = why
            return None
        if not self.read_only or not self.can_open_draft:
            self.note = "only a version of library nodes opens as a draft"
            return None
        try:
            await blocking(
                drafts.open_as_draft,
                client(),
                self.workflow,
                self.shown_version,
                self._draft_rev,
                allowed.actor,
            )
        except drafts.DraftConflict:
            self.conflict = CONFLICT
            return None
        except PlaitError as exc:
            self.note = str(exc)
            return None
        await record(self, allowed, "draft.open", f"{self.workflow} {self.shown_version}")
        opened, picked = self.shown_version, self.selected
        self._apply(await blocking(load_document, self.workflow), self.workflow, allowed)
        self._secret_names = await blocking(secret_names)
        if picked and editor.find(self.doc, picked) is not None:
            # the canvas keeps the node selected: its config shows, ready to edit
            self.selected, self._picked, self.picked_count = picked, [picked], 1
        self._show_config()
        self.note = f"version {opened[:8]} opened as the draft · {self.note}"
        # the address names the draft again, so a reload edits it rather than the version
        path = json.dumps(self.router.url.path)
        return rx.call_script(f"window.history.replaceState(null, '', {path})")

    # -- canvas events ------------------------------------------------------------------------

    @saves
    def drop_kind(self, kind: str, x: float, y: float) -> None:
        self._drop(kind, x, y)

    def _drop(self, kind: str, x: float, y: float) -> None:
        item = next((i for i in PALETTE if i.kind == kind), None)
        if item is None or not item.addable:
            self.note = f"{kind} nodes hold Python code: add them in a notebook"
            return
        doc, name = editor.add_node(self.doc, kind, x, y)
        self.selected, self.form_key, self._picked = name, self.form_key + 1, [name]
        self._commit(doc)

    @saves
    def add_kind(self, kind: str) -> None:
        """A click on a palette entry: the node goes right of the rightmost one."""
        xs = [n["x"] for n in self.doc["nodes"]]
        self._drop(kind, (max(xs) + 240) if xs else 0.0, 0.0)
        self.fit += 1

    @saves
    def moved(self, positions: list[dict[str, Any]]) -> None:
        self._commit(editor.move_nodes(self.doc, positions))

    @saves
    def connect_nodes(self, source: str, target: str) -> None:
        self._commit(editor.connect(self.doc, source, target))

    def select_items(self, nodes: list[str], edges: list[str]) -> Any:
        self._picked, self._picked_edges = list(nodes), list(edges)
        self.picked_count = len(nodes)
        chosen = nodes[0] if len(nodes) == 1 else ""
        if chosen != self.selected:
            self.selected, self.config_error, self._policy_errors = chosen, "", {}
            self.form_key += 1
            self._show_config()
            return EditorState.show_run_output
        return None

    async def show_run_output(self) -> None:
        """The selected node's output in the last test run, beside its config."""
        node, run_id = self.selected, self.run_id
        if not node or not run_id or self.running:
            self.run_output, self.run_output_note = Preview(), ""
            return
        if (await permitted(self, "read", "read runs"))[0] is None:
            return
        shown = await blocking(test_run_output, run_id, node)
        if self.selected == node and self.run_id == run_id:
            self.run_output_note, self.run_output = shown

    @saves
    def key(self, combo: str) -> None:
        if combo == "mod+z":
            self._step(back=True)
        elif combo in ("mod+shift+z", "mod+y"):
            self._step(back=False)
        elif combo in ("delete", "backspace"):
            self._delete()
        elif combo == "mod+c":
            self._clip = editor.copied(self.doc, self._picked)
        elif combo == "mod+v":
            self._paste()
        elif combo == "l":
            self._layout()

    @saves
    def delete_selection(self) -> None:
        self._delete()

    def _delete(self) -> None:
        edges = [e.split("->", 1) for e in self._picked_edges if "->" in e]
        self._commit(editor.remove(self.doc, self._picked, edges))
        self._picked, self._picked_edges, self.picked_count = [], [], 0

    @saves
    def paste(self) -> None:
        self._paste()

    def _paste(self) -> None:
        if not self._clip.get("nodes"):
            return
        doc, names = editor.paste(self.doc, self._clip)
        self._picked = names
        self._commit(doc)
        self._clip = editor.copied(doc, names)  # a second paste lands further on

    @saves
    def undo(self) -> None:
        self._step(back=True)

    @saves
    def redo(self) -> None:
        self._step(back=False)

    def _step(self, back: bool) -> None:
        if self._history is not None and (self._history.undo() if back else self._history.redo()):
            self.form_key += 1
            self._refresh()
            self._unsaved = True  # the draft follows the document back (and forth)

    @saves
    def layout(self) -> None:
        self._layout()

    def _layout(self) -> None:
        self._commit(editor.auto_layout(self.doc, "LR", self._wired))
        self.fit += 1

    def zoom_to_fit(self) -> None:
        self.fit += 1

    def focus_node(self, name: str) -> None:
        if not name or editor.find(self.doc, name) is None:
            return
        self._focus_n += 1
        self.focus = f"{name}#{self._focus_n}"
        self.selected, self._picked, self.picked_count = name, [name], 1
        self._policy_errors = {}
        self.form_key += 1
        self._show_config()

    def set_query(self, value: str) -> None:
        self.query = value

    # -- the config form and the run inputs ---------------------------------------------------

    @saves
    def set_field(self, name: str, raw: Any) -> None:
        node = editor.find(self.doc, self.selected)
        if node is None:
            return
        try:
            value = editor_forms.config_value(node["kind"], self.config, name, raw)
        except ValueError as exc:
            self.config_error = str(exc)
            return
        self.config_error = ""
        option, value = editor_forms.option_update(node["config"], self.config, name, value)
        self._commit(editor.set_config(self.doc, self.selected, option, value))

    @saves
    def set_policy(self, name: str, raw: Any) -> None:
        """A policy typed into the panel; a bad number is named next to its field."""
        node = editor.find(self.doc, self.selected)
        if node is None:
            return
        try:
            value = editor_policies.policy_value(node["kind"], name, raw)
        except ValueError as exc:
            self._policy_errors = {**self._policy_errors, name: str(exc)}
            self._show_config()
            return
        self._policy_errors = {k: v for k, v in self._policy_errors.items() if k != name}
        self._commit(editor_policies.set_policy(self.doc, self.selected, name, value))
        self._show_config()  # the error goes even when the value is the one held

    @saves
    def rename_selected(self, new: str) -> None:
        if not self.selected or new == self.selected:
            return
        before = set(editor.node_names(self.doc))
        doc = editor.rename(self.doc, self.selected, new)
        after = [n for n in editor.node_names(doc) if n not in before]
        if after:
            self.selected, self._picked = after[0], [after[0]]
            self.form_key += 1
        self._commit(doc)

    @saves
    def set_title(self, value: str) -> None:
        value = value.strip()
        if value and value != self.doc["name"]:
            self.title = value
            self._commit({**self.doc, "name": value})

    @saves
    def add_input(self) -> None:
        self._commit(editor.add_input(self.doc))

    @saves
    def remove_input(self, index: int) -> None:
        rows = [r for i, r in enumerate(self.doc["inputs"]) if i != index]
        self.form_key += 1
        self._commit(editor.set_inputs(self.doc, rows))

    @saves
    def set_input(self, index: int, field: str, value: str) -> None:
        rows = [dict(r) for r in self.doc["inputs"]]
        if 0 <= index < len(rows) and field in rows[index]:
            rows[index][field] = value
            self._commit(editor.set_inputs(self.doc, rows))

    # -- export and test run ------------------------------------------------------------------

    def export(self) -> Any:
        return rx.download(
            data=json.dumps(self.doc, indent=2), filename=f"{self.doc['name']}.workflow.json"
        )

    @rx.event(background=True)
    async def test_run(self, form_data: dict[str, Any]) -> None:
        async with self:
            if self.read_only:
                self.run_message = READ_ONLY
                return
            doc = self.doc
            fields = list(self.run_fields)
            allowed, why = await permitted(self, "write", "start runs", target=doc["name"])
            if allowed is None:
                self.run_message = why
                return
            inputs, errors = forms.inputs_from_form(fields, form_data)
            self.run_fields = forms.with_errors(fields, errors)
            if errors:
                self.run_message = "please correct the fields marked"
                return
            if self.conflict:
                self.run_message = self.conflict
                return
            try:
                graph = editor_check.graph_of(doc)
            except PlaitError as exc:
                self.run_message = f"fix the problems first: {exc}"
                return
            saved = self._flush()
            if saved and self._draft_rev is None:
                saved = self._save()  # a version opened but not edited yet: its draft first
            if not saved or self.conflict:
                # the stored draft is not what the canvas shows: never run that one
                self.run_message = self.conflict or f"not run: {self.draft_status or 'not saved'}"
                return
            workflow = self.workflow or doc["name"]
            self.running, self.run_message, self.run_status = True, "", "queued"
            self._statuses = {}
            self.run_output, self.run_output_note = Preview(), ""
            self._draw()
        try:
            run = await blocking(drafts.test_run, client(), workflow, inputs, owner=allowed.actor)
        except PlaitError as exc:
            async with self:
                self.running, self.run_message = False, str(exc)
            return
        view = live.new_view(graph.nodes)
        async with self:
            self.run_id = run.id
            await record(self, allowed, "run.start", doc["name"], run=run.id, draft=True)
        async for event in client().afollow(run.id, after=0, stop_at_end=True):
            live.apply(view, [event])
            async with self:
                if self.run_id != run.id:  # another test run took over
                    return
                self._statuses = view.statuses
                self.run_status = view.status
                self._draw()
        async with self:
            self.running = False
            self.run_message = f"run {run.id[:12]} {view.status}" + (
                f": {view.error}" if view.error else ""
            )
            node = self.selected
        if node:
            shown = await blocking(test_run_output, run.id, node)
            async with self:
                if self.selected == node and self.run_id == run.id:
                    self.run_output_note, self.run_output = shown

    # -- publishing ---------------------------------------------------------------------------

    def open_publish(self) -> None:
        self.publish_open, self.publish_note = True, ""
        self.publish_problems = [
            f"{p.node}: {p.message}" if p.node else p.message for p in self.problems
        ]

    def set_publish_open(self, value: bool) -> None:
        self.publish_open = value

    async def publish(self, form_data: dict[str, Any]) -> None:
        if self.read_only:
            self.publish_note = READ_ONLY
            return
        allowed, why = await permitted(self, "write", "publish workflows", target=self.workflow)
        if allowed is None:
            self.publish_note = why
            return
        if not self._flush() or self.conflict:
            # the stored draft is not what the canvas shows: never publish that one
            self.publish_note = self.conflict or (
                f"not published: {self.draft_status or 'not saved'}"
            )
            return
        message = str(form_data.get("message", "")).strip()
        try:
            version = await blocking(
                drafts.publish_draft,
                client(),
                self.workflow,
                message=message,
                author=allowed.actor,
                revision=self._draft_rev,
            )
        except drafts.DraftInvalid as exc:
            self.publish_problems = [str(p) for p in exc.problems]
            self.publish_note = f"not published: the draft has {len(exc.problems)} problem(s)"
            return
        except drafts.DraftConflict:
            self.conflict = CONFLICT
            self.publish_note = CONFLICT
            return
        except PlaitError as exc:
            self.publish_note = str(exc)
            return
        await record(self, allowed, "workflow.publish", self.workflow, version=version.version)
        self.publish_open, self.publish_problems = False, []
        self.note = f"published version {version.version[:8]} of {self.workflow}: {message}"
