"""Differences between two versions of a workflow, node by node."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ASPECTS = ("kind", "depends_on", "inputs", "after", "policies", "code", "schema")


@dataclass
class DiffRow:
    node: str
    change: str
    """added | removed | changed | same"""
    detail: str


def diff_specs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[DiffRow]:
    """Node list of ``new`` against ``old``: nodes added, removed, and changed (saying
    which of kind, wiring, policies, code reference or schema changed). Nodes keep the new
    version's order, removed ones come last."""
    before = {n["name"]: n for n in old.get("nodes", [])}
    after = {n["name"]: n for n in new.get("nodes", [])}
    rows = []
    for name, node in after.items():
        if name not in before:
            rows.append(DiffRow(name, "added", _describe(node)))
            continue
        changes = [_change(a, before[name].get(a), node.get(a)) for a in _ASPECTS]
        changes = [c for c in changes if c]
        if changes:
            rows.append(DiffRow(name, "changed", "; ".join(changes)))
        else:
            rows.append(DiffRow(name, "same", ""))
    rows.extend(
        DiffRow(name, "removed", _describe(node))
        for name, node in before.items()
        if name not in after
    )
    return rows


def summary(rows: list[DiffRow]) -> str:
    counts = {c: sum(r.change == c for r in rows) for c in ("added", "removed", "changed")}
    parts = [f"{n} {c}" for c, n in counts.items() if n]
    return ", ".join(parts) or "same node list (node code may still differ)"


def _describe(node: Mapping[str, Any]) -> str:
    deps = ", ".join(node.get("depends_on", []))
    return f"{node.get('kind', 'function')}" + (f" after {deps}" if deps else "")


def _change(aspect: str, old: Any, new: Any) -> str:
    if old == new:
        return ""
    if aspect == "policies":
        keys = sorted(set(old or {}) | set(new or {}))
        moved = [
            f"{k} {(old or {}).get(k)} → {(new or {}).get(k)}"
            for k in keys
            if (old or {}).get(k) != (new or {}).get(k)
        ]
        return "policies: " + ", ".join(moved)
    if aspect == "schema":
        return "schema changed"
    if aspect in ("depends_on", "after") and isinstance(old, list) and isinstance(new, list):
        added = [x for x in new if x not in old]
        removed = [x for x in old if x not in new]
        bits = [f"+{x}" for x in added] + [f"-{x}" for x in removed]
        return f"{aspect}: " + (" ".join(bits) or "reordered")
    return f"{aspect}: {_short(old)} → {_short(new)}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= 60 else text[:59] + "…"
