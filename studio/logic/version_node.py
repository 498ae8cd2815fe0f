"""What the workflow page shows of a node picked on its graph: kind, wiring, policies, and
what it runs (the Python source of a code node, the options of a library node)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_DEFAULT_POLICIES: dict[str, Any] = {
    "retries": 0,
    "backoff": 1.0,
    "timeout": None,
    "isolation": None,
    "max_interruptions": 3,
}
"""``g.add``'s defaults (``runtime.nodes.node.Node``): the panel names only the others."""


@dataclass
class NodeView:
    name: str = ""
    kind: str = ""
    doc: str = ""
    wiring: list[str] = field(default_factory=list)
    """``parameter ← source`` per input, then ``after x`` for ordering-only edges."""
    policies: str = ""
    """``retries 2 · timeout 30`` (the ones not at their default)."""
    source: str = ""
    """The Python source it runs, when the version recorded it."""
    source_note: str = ""
    """Why there is no source: a library node, or a version stored without it."""
    config: str = ""
    """A library node's options, as JSON."""
    secrets: list[str] = field(default_factory=list)


def node_view(
    spec: Mapping[str, Any], name: str, sources: Mapping[str, str] | None = None
) -> NodeView:
    """The view of node ``name`` of ``spec``; an empty view for a name it does not have."""
    entry = next((n for n in spec.get("nodes", []) if n["name"] == name), None)
    if entry is None:
        return NodeView()
    wiring = [f"{param} ← {src}" for param, src in (entry.get("inputs") or {}).items()]
    wiring += [f"after {a}" for a in entry.get("after") or []]
    policies = entry.get("policies") or {}
    shown = [
        f"{k} {policies[k]}"
        for k, default in _DEFAULT_POLICIES.items()
        if policies.get(k, default) != default and (k != "backoff" or policies.get("retries"))
    ]
    view = NodeView(
        name=name,
        kind=str(entry.get("kind", "function")),
        doc=str(entry.get("doc") or ""),
        wiring=wiring,
        policies=" · ".join(shown),
        secrets=list(entry.get("secrets") or []),
    )
    if entry.get("options") is not None:
        # the editor's own bookkeeping of typed run inputs, when it types none
        options = {k: v for k, v in entry["options"].items() if k != "input_types" or v}
        view.config = json.dumps(options, indent=2, sort_keys=True, default=repr)
    source = (sources or {}).get(name)
    if source:
        view.source = source
    elif entry.get("code") and entry.get("options") is None:  # a wait or sleep runs none
        view.source_note = f"runs {entry['code']}; this version was stored without its source"
    return view
