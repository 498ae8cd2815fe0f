"""The editor's document: a workflow as plain JSON (``Document``) and the edits made to it.

Every function takes a document and returns a new one (the old one is never changed), so
the undo stack (``studio.logic.editor_history``) can keep whole documents and a later
drafts store can save one as it is.

A document::

    {"name": "digest", "description": "",
     "inputs": [{"name": "city", "type": "str", "default": "", "description": ""}],
     "nodes": [{"name": "fetch", "kind": "http", "config": {"url": "..."}, "x": 0, "y": 0}],
     "edges": [["fetch", "summary"]]}

An edge ``a -> b`` runs ``b`` after ``a``; ``b`` reads ``a``'s value through an expression
(``{{ nodes.a.output }}``), which also wires it when no edge is drawn.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime import nodes as node_kinds
from runtime.drafts import is_buildable
from runtime.nodes.library import InputType
from runtime.nodes.registry import kind_of
from studio.logic import layout

Document = dict[str, Any]

INPUT_TYPES: tuple[InputType, ...] = ("str", "int", "float", "bool", "dict", "list", "any")

GROUPS: dict[str, tuple[str, ...]] = {
    "Text and data": ("template", "transform", "parse", "prompt"),
    "Flow control": ("filter", "router", "map", "sleep", "approval"),
    "Calls": ("http", "code", "llm", "graph"),
}
"""Palette groups, in order; kinds in none of them (plug-ins) go to ``OTHER``."""
OTHER = "More kinds"
PYTHON_ONLY = "Python only"
"""Kinds whose nodes hold Python objects (a function, a runnable): listed, but added in a
notebook, not here (what a draft cannot hold: ``runtime.drafts.is_buildable``)."""

CODE_FIELDS = frozenset({"source", "template", "prompt", "system", "body", "condition"})
"""Option fields edited in a multi-line code box rather than a one-line input."""
_NAME = re.compile(r"[^A-Za-z0-9_]+")


@dataclass
class PaletteItem:
    kind: str
    group: str
    doc: str
    addable: bool
    """False for ``PYTHON_ONLY`` kinds."""


def palette() -> list[PaletteItem]:
    """Every registered node kind, grouped (``GROUPS`` order, then plug-ins, then the
    Python-only kinds), with the first paragraph of its documentation."""
    described = {k["name"]: k for k in node_kinds.described()}
    grouped = {kind: group for group, kinds in GROUPS.items() for kind in kinds}
    order = [*GROUPS, OTHER, PYTHON_ONLY]
    items = []
    for name, kind in described.items():
        group = grouped.get(name, OTHER) if is_buildable(kind_of(name)) else PYTHON_ONLY
        doc = " ".join(kind["doc"].replace("``", "").split())
        items.append(PaletteItem(name, group, doc, group != PYTHON_ONLY))
    return sorted(items, key=lambda i: (order.index(i.group), i.kind))


def search(items: Sequence[PaletteItem], query: str) -> list[PaletteItem]:
    """Items whose kind or description holds every word of ``query``."""
    words = query.lower().split()
    return [i for i in items if all(w in f"{i.kind} {i.doc}".lower() for w in words)]


def new_document(name: str = "untitled") -> Document:
    return {"name": name, "description": "", "inputs": [], "nodes": [], "edges": []}


def node_names(doc: Mapping[str, Any]) -> list[str]:
    return [n["name"] for n in doc["nodes"]]


def find(doc: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    return next((n for n in doc["nodes"] if n["name"] == name), None)


def fresh_name(taken: Iterable[str], base: str) -> str:
    """``base`` made an identifier, numbered when taken: ``http``, ``http_2``, ..."""
    base = _NAME.sub("_", base).strip("_") or "node"
    if base[0].isdigit():
        base = f"n_{base}"
    names = set(taken)
    if base not in names:
        return base
    i = 2
    while f"{base}_{i}" in names:
        i += 1
    return f"{base}_{i}"


def add_node(
    doc: Mapping[str, Any], kind: str, x: float, y: float, config: Mapping[str, Any] | None = None
) -> tuple[Document, str]:
    """The document with a new node of ``kind`` at ``(x, y)``; its name is returned too."""
    out = copy.deepcopy(dict(doc))
    name = fresh_name(node_names(out), kind)
    out["nodes"].append(
        {"name": name, "kind": kind, "config": dict(config or {}), "x": float(x), "y": float(y)}
    )
    return out, name


def move_nodes(doc: Mapping[str, Any], positions: Iterable[Mapping[str, Any]]) -> Document:
    """``positions``: ``{"id": name, "x": .., "y": ..}`` as the canvas reports a drag."""
    out = copy.deepcopy(dict(doc))
    moved = {p["id"]: p for p in positions}
    for node in out["nodes"]:
        if node["name"] in moved:
            node["x"], node["y"] = float(moved[node["name"]]["x"]), float(moved[node["name"]]["y"])
    return out


def connect(doc: Mapping[str, Any], source: str, target: str) -> Document:
    """The document with edge ``source -> target`` (unchanged for a self-loop, a repeat
    or an unknown node: a cycle of several nodes is left for validation to name)."""
    names = node_names(doc)
    edges = [list(e) for e in doc["edges"]]
    if source == target or source not in names or target not in names:
        return copy.deepcopy(dict(doc))
    if [source, target] in edges:
        return copy.deepcopy(dict(doc))
    out = copy.deepcopy(dict(doc))
    out["edges"].append([source, target])
    return out


def remove(
    doc: Mapping[str, Any], names: Iterable[str], edges: Iterable[Sequence[str]] = ()
) -> Document:
    """Without the nodes ``names`` (and their edges) and the edges ``edges``."""
    gone, cut = set(names), {tuple(e) for e in edges}
    out = copy.deepcopy(dict(doc))
    out["nodes"] = [n for n in out["nodes"] if n["name"] not in gone]
    out["edges"] = [
        e for e in out["edges"] if e[0] not in gone and e[1] not in gone and tuple(e) not in cut
    ]
    return out


def set_config(doc: Mapping[str, Any], node: str, field: str, value: Any) -> Document:
    """Node ``node``'s option ``field`` set to ``value`` (``None`` removes it: the
    kind's default applies)."""
    out = copy.deepcopy(dict(doc))
    target = find(out, node)
    if target is None:
        return out
    if value is None:
        target["config"].pop(field, None)
    else:
        target["config"][field] = value
    return out


def rename(doc: Mapping[str, Any], old: str, new: str) -> Document:
    """Node ``old`` named ``new`` (made an identifier, numbered when taken); its edges
    follow it. Expressions naming it are the user's to change."""
    out = copy.deepcopy(dict(doc))
    target = find(out, old)
    if target is None or not new.strip() or new == old:
        return out
    name = fresh_name([n for n in node_names(out) if n != old], new)
    target["name"] = name
    out["edges"] = [[name if s == old else s, name if t == old else t] for s, t in out["edges"]]
    return out


def set_inputs(doc: Mapping[str, Any], inputs: Sequence[Mapping[str, Any]]) -> Document:
    """The run inputs replaced: each ``name`` (an identifier), ``type`` (``INPUT_TYPES``),
    ``default`` (text; empty: required) and ``description``."""
    out = copy.deepcopy(dict(doc))
    out["inputs"] = [
        {
            "name": str(i.get("name", "")),
            "type": i.get("type") if i.get("type") in INPUT_TYPES else "str",
            "default": str(i.get("default", "")),
            "description": str(i.get("description", "")),
        }
        for i in inputs
    ]
    return out


def add_input(doc: Mapping[str, Any]) -> Document:
    taken = [i["name"] for i in doc["inputs"]]
    new = {"name": fresh_name(taken, "input"), "type": "str", "default": "", "description": ""}
    return set_inputs(doc, [*doc["inputs"], new])


def copied(doc: Mapping[str, Any], names: Iterable[str]) -> Document:
    """The clipboard: the nodes ``names`` and the edges between them, as a document."""
    chosen = set(names)
    return {
        **new_document("clipboard"),
        "nodes": [copy.deepcopy(n) for n in doc["nodes"] if n["name"] in chosen],
        "edges": [list(e) for e in doc["edges"] if e[0] in chosen and e[1] in chosen],
    }


def paste(
    doc: Mapping[str, Any], clip: Mapping[str, Any], offset: float = 40.0
) -> tuple[Document, list[str]]:
    """The clipboard's nodes added under fresh names, shifted by ``offset``; their edges
    follow the new names. Returns the names given."""
    out = copy.deepcopy(dict(doc))
    renamed: dict[str, str] = {}
    for node in clip["nodes"]:
        name = fresh_name([*node_names(out)], node["name"])
        renamed[node["name"]] = name
        out["nodes"].append(
            {**copy.deepcopy(node), "name": name, "x": node["x"] + offset, "y": node["y"] + offset}
        )
    out["edges"].extend([renamed[s], renamed[t]] for s, t in clip["edges"])
    return out, list(renamed.values())


def auto_layout(
    doc: Mapping[str, Any],
    direction: layout.Direction = "LR",
    wired: Iterable[Sequence[str]] = (),
) -> Document:
    """Nodes placed in layers by their edges and the ``wired`` ones expressions make
    (``studio.logic.layout``); a cycle's nodes are placed as if its closing edge were not
    there."""
    edges = [*map(list, doc["edges"]), *map(list, wired)]
    order = _order({**doc, "edges": edges})
    deps: dict[str, list[str]] = {n: [] for n in order}
    rank = {n: i for i, n in enumerate(order)}
    for s, t in edges:
        if s in rank and t in rank and rank[s] < rank[t]:
            deps[t].append(s)
    kinds = {n["name"]: n["kind"] for n in doc["nodes"]}
    spec = {"nodes": [{"name": n, "kind": kinds[n], "depends_on": deps[n]} for n in order]}
    placed = {p.name: p for p in layout.place(spec, direction)}
    out = copy.deepcopy(dict(doc))
    for node in out["nodes"]:
        node["x"], node["y"] = placed[node["name"]].x, placed[node["name"]].y
    return out


def _order(doc: Mapping[str, Any]) -> list[str]:
    """Names in an order where each edge points forward where it can (Kahn's algorithm;
    the nodes of a cycle follow in document order)."""
    names = node_names(doc)
    incoming = {n: 0 for n in names}
    succs: dict[str, list[str]] = {n: [] for n in names}
    for s, t in doc["edges"]:
        if s in incoming and t in incoming:
            incoming[t] += 1
            succs[s].append(t)
    ready = [n for n in names if incoming[n] == 0]
    out: list[str] = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for t in succs[n]:
            incoming[t] -= 1
            if incoming[t] == 0:
                ready.append(t)
    return out + [n for n in names if n not in set(out)]
