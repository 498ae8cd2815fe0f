"""Two versions of a workflow side by side: their differences as rows the page lists and as
a graph of both where added, removed and changed nodes stand out."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.drafts import Change, VersionDiff, code_change_lines
from studio.logic import layout

DIFF_COLOURS: dict[str, str] = {
    "added": "#dcfce7",
    "removed": "#fee2e2",
    "changed": "#fef3c7",
    "same": "#f4f4f5",
}
"""Node fills on the diff graph; the class ``plait-diff-<change>`` carries the same, and
removed nodes are dashed too, for those who do not tell the colours apart."""


@dataclass
class DiffLine:
    """One changed field of a node: ``options.url``, ``policies.retries``, ``code``..."""

    field: str
    old: str
    new: str
    code: list[str] = dataclasses.field(default_factory=list)
    """For changed source text: the unified diff, line by line (``+``/``-``/`` ``)."""


@dataclass
class DiffRow:
    node: str
    change: str
    """added | removed | changed | same"""
    detail: str
    lines: list[DiffLine] = dataclasses.field(default_factory=list)


def rows(found: VersionDiff, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[DiffRow]:
    """Rows for every node of ``found`` (``runtime.drafts.diff_versions`` of ``old``
    against ``new``): in the new version's order, removed ones last; the workflow's own changes
    (description, run inputs) first, under the name ``(workflow)``."""
    before = {n["name"]: n for n in old.get("nodes", [])}
    after = {n["name"]: n for n in new.get("nodes", [])}
    out = []
    if found.workflow:
        lines = [_line(c) for c in found.workflow]
        out.append(DiffRow("(workflow)", "changed", _detail(lines), lines))
    for name in after:
        if name in found.added:
            out.append(DiffRow(name, "added", _describe(after[name])))
        elif name in found.changed:
            lines = [_line(c) for c in found.changed[name]]
            out.append(DiffRow(name, "changed", _detail(lines), lines))
        else:
            out.append(DiffRow(name, "same", ""))
    out.extend(DiffRow(name, "removed", _describe(before[name])) for name in found.removed)
    return out


def summary(found: list[DiffRow]) -> str:
    counts = {c: sum(r.change == c for r in found) for c in ("added", "removed", "changed")}
    parts = [f"{n} {c}" for c, n in counts.items() if n]
    return ", ".join(parts) or "no differences found"


def both_spec(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` with ``old``'s removed nodes and edges put back: what the diff graph draws."""
    names = {n["name"] for n in new.get("nodes", [])}
    gone = [n for n in old.get("nodes", []) if n["name"] not in names]
    edges = [list(e) for e in new.get("edges", [])]
    edges += [list(e) for e in old.get("edges", []) if list(e) not in edges]
    return {**new, "nodes": [*new.get("nodes", []), *gone], "edges": edges}


def diff_graph(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    found: list[DiffRow],
    direction: layout.Direction,
    selected: str = "",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """React Flow nodes and edges of both versions, each node filled by its change and
    classed ``plait-diff-<change>``; an edge only one side has is dashed."""
    spec = both_spec(old, new)
    change = {r.node: r.change for r in found}
    nodes = layout.flow_nodes(layout.place(spec, direction), {}, selected, direction)
    for n in nodes:
        what = change.get(n["id"], "same")
        n["className"] += f" plait-diff-{what}"
        n["style"] = {"background": DIFF_COLOURS[what]}
        if what == "removed":
            n["style"] |= {"borderStyle": "dashed", "opacity": 0.75}
        if what != "same":
            n["data"] = {"label": f"{n['data']['label']} ({what})"}
    kept = {tuple(e) for e in old.get("edges", [])} & {tuple(e) for e in new.get("edges", [])}
    edges = layout.flow_edges(spec, {})
    for e in edges:
        if (e["source"], e["target"]) not in kept:
            e["className"] = "plait-diff-edge"
            e["style"] = {"strokeDasharray": "5 3", "stroke": "#b45309"}
    return nodes, edges


def _line(c: Change) -> DiffLine:
    if c.field == "code":
        note, lines = code_change_lines(c)
        return DiffLine("code", "", note, lines[2:])  # the ---/+++ header names no files here
    if isinstance(c.old, list) and isinstance(c.new, list):
        added = [x for x in c.new if x not in c.old]
        removed = [x for x in c.old if x not in c.new]
        bits = [f"+{x}" for x in added] + [f"-{x}" for x in removed]
        return DiffLine(c.field, "", " ".join(bits) or "reordered")
    return DiffLine(c.field, _short(c.old), _short(c.new))


def _detail(lines: list[DiffLine]) -> str:
    parts = []
    for line in lines:
        if line.field == "code":
            parts.append("code " + (line.new or "changed"))
        elif line.old == "":
            parts.append(f"{line.field}: {line.new}")
        else:
            parts.append(f"{line.field} {line.old} → {line.new}")
    return "; ".join(parts)


def _describe(node: Mapping[str, Any]) -> str:
    deps = ", ".join(node.get("depends_on", []))
    return f"{node.get('kind', 'function')}" + (f" after {deps}" if deps else "")


def _short(value: Any) -> str:
    if value is None:
        return "unset"
    text = json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= 60 else text[:59] + "…"
