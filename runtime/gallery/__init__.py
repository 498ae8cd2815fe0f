"""The template gallery: ready-made workflows of library nodes, each one file in the export
format (``runtime.export``) with a ``template`` entry (title, category, description).

``use_template`` saves a template as the draft of a new workflow, to edit, test-run and
publish as any draft; the secrets it reads (an LLM provider's key, an API token) are named,
not stored: store them before its first run. A file added to this directory is a template
(and ``tests/core/test_templates.py`` test-runs it); after editing a template's draft, run
``python -m runtime.gallery`` to write its spec and version hash again.

A template may run other workflows (sub-graph nodes): it ships them under ``requires``, each
``{"name", "version", "draft"}``, and its sub-graph nodes pin those versions. ``use_template``
publishes each one first (a workflow of that name that holds no such version is refused, not
changed), so that the template's draft builds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import drafts, export
from runtime.errors import InputError, NotFound, RunStateError
from runtime.nodes.registry import kinds

if TYPE_CHECKING:
    from runtime.client import Client
    from runtime.store.tables import WorkflowDraft, WorkflowVersion

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Template:
    """One workflow of the gallery."""

    name: str
    """What ``plait templates use`` takes, and the workflow's name by default."""
    title: str
    category: str
    """Groups the gallery: AI, Integrations, Reports, Data."""
    description: str
    doc: dict[str, Any]
    """The whole file: an export document (``runtime.export.read_file_object``)."""

    @property
    def kinds(self) -> list[str]:
        return sorted({n["kind"] for n in self.doc["draft"]["nodes"]})

    @property
    def secrets(self) -> list[str]:
        """The stored secrets its nodes read, by name."""
        return list(self.doc.get("secrets", []))

    @property
    def requires(self) -> list[dict[str, Any]]:
        """The workflows it runs as sub-graphs, each ``{"name", "version", "draft"}``:
        published by ``use_template`` before its own draft is saved."""
        return list(self.doc.get("requires", []))

    @property
    def inputs(self) -> dict[str, Any]:
        """Its run inputs: name -> type and description."""
        return dict(self.doc["draft"].get("inputs", {}))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "category": self.category,
            "description": self.description,
            "kinds": self.kinds,
            "secrets": self.secrets,
            "inputs": self.inputs,
            "version": self.doc["version"],
        }


@dataclass(frozen=True)
class Used:
    """What ``use_template`` made."""

    draft: WorkflowDraft
    missing_secrets: list[str]
    """Secrets the template reads that this store does not hold yet: its runs fail until
    they are stored (``plait secrets set NAME``)."""


def _load(path: Path) -> Template:
    doc = export.read_file(path.read_text(), f"template {path.name}")
    about = doc.get("template")
    if not isinstance(about, dict) or not all(
        isinstance(about.get(k), str) and about[k] for k in ("title", "category", "description")
    ):
        raise InputError(f"template {path.name}: 'template' needs title, category, description")
    return Template(path.stem, about["title"], about["category"], about["description"], doc)


def templates() -> list[Template]:
    """Every template, by category then name."""
    found = [_load(p) for p in sorted(HERE.glob("*.json"))]
    return sorted(found, key=lambda t: (t.category, t.name))


def template(name: str) -> Template:
    """The template ``name``; ``NotFound`` listing the ones there are."""
    path = HERE / f"{name}.json"
    if "/" in name or not path.is_file():
        known = ", ".join(t.name for t in templates())
        raise NotFound(f"no template named {name!r} (templates: {known})")
    return _load(path)


def use_template(
    client: Client, template_name: str, name: str | None = None, *, author: str | None = None
) -> Used:
    """Save template ``template_name`` as the draft of a new workflow ``name`` (the
    template's name by default). ``RunStateError`` when that workflow exists, ``InputError``
    when the template needs node kinds not registered here; missing secrets are reported,
    not refused (a draft can be edited before they are stored)."""
    chosen = template(template_name)
    target = name or chosen.name
    needed = [str(need.get("name")) for need in chosen.requires]
    if target in needed:  # it would be its own sub-graph's workflow
        raise InputError(
            f"template {chosen.name!r} publishes a workflow named {target!r} it runs: use the "
            "template under another name"
        )
    if target in {w.name for w in client.store.workflows()}:
        raise RunStateError(
            f"a workflow named {target!r} exists already: use the template under another name"
        )
    registered = kinds()
    unknown = sorted({n["kind"] for n in chosen.doc["draft"]["nodes"]} - set(registered))
    if unknown:
        raise InputError(
            f"template {chosen.name!r} needs node kinds not registered here: {', '.join(unknown)}"
        )
    from runtime.secrets import Secrets

    publish_required(client, chosen, author=author)
    stored = {s.name for s in Secrets(client.store, client.settings).list()}
    draft = {**chosen.doc["draft"], "name": target}
    saved, _problems = drafts.save_draft(client, target, draft, None, author)
    return Used(saved, sorted(set(chosen.secrets) - stored))


def publish_required(
    client: Client, chosen: Template, *, author: str | None = None
) -> list[WorkflowVersion]:
    """Publish the workflows the template runs (``requires``), each the version it pins: a
    new workflow, or one holding that version already (then nothing changes). A workflow of
    that name without it is refused (``RunStateError``): its current version is someone's."""
    out = []
    for need in chosen.requires:
        graph = drafts.build(need["draft"])
        name = need["name"]
        if graph.version != need["version"]:  # the file was edited without a refresh
            raise InputError(
                f"template {chosen.name!r}: its workflow {name!r} builds {graph.version}, not "
                f"the {need['version']} it pins (run `python -m runtime.gallery`)"
            )
        if name in {w.name for w in client.store.workflows()}:
            known = {v.version for v in client.store.version_infos(name)}
            if graph.version not in known:
                raise RunStateError(
                    f"template {chosen.name!r} runs workflow {name!r} {graph.version}, and a "
                    f"workflow {name!r} without that version exists already"
                )
        out.append(client.publish(graph, message=f"for template {chosen.name}", author=author))
    return out


def refresh(path: Path) -> None:
    """Write the spec, version hash, kinds and secrets of the template file's draft (and of
    the workflows it requires, whose versions its sub-graph nodes then pin: built against a
    scratch store holding them)."""
    doc = json.loads(path.read_text())
    if doc.get("requires"):
        _refresh_required(doc)
    graph = drafts.build(doc["draft"])
    spec = graph.spec()
    doc.update(
        version=graph.version,
        kinds=sorted({n["kind"] for n in spec["nodes"]}),
        secrets=export.secrets_of(spec),
        spec=spec,
    )
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _refresh_required(doc: dict[str, Any]) -> None:
    import tempfile

    import runtime as rt

    pins = {}
    for need in doc["requires"]:
        graph = drafts.build(need["draft"])
        need["version"] = pins[need["name"]] = graph.version
    for node in doc["draft"]["nodes"]:
        options = node.get("options") or {}
        if node.get("kind") == "graph" and options.get("workflow") in pins:
            options["version"] = pins[options["workflow"]]
    home = Path(tempfile.mkdtemp(prefix="plait-gallery-"))
    client = rt.connect(f"sqlite:///{home / 'gallery.db'}", home=home)  # the default now
    for need in doc["requires"]:
        client.publish(drafts.build(need["draft"]))
