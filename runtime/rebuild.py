"""A graph rebuilt from a stored spec (``Graph.spec()``, a published version's ``spec``): what
the studio's builder stores is JSON, and each node is added again by its kind and options as
``g.add_node`` adds one. Only nodes that run from their options alone rebuild (the node
library's kinds, ``approval``, a sleep, a sub-graph running a published workflow, a map whose
body is a library node, a plug-in's kinds that need no target); a node that runs Python code
(a function, a runnable, a function map) is refused by name, as is an ``llm`` tool that cannot
be found here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.errors import GraphError

if TYPE_CHECKING:
    from runtime.graph import Graph

_CODE_KINDS = ("function", "runnable", "branch", "wait")
"""Built-in kinds whose nodes hold what no spec does (code, a payload model)."""
_DESCRIBED = ("approval", "graph", "sleep")
"""Kinds whose spec entries may say what their options would under an entry of their own."""


def spec_options(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The options that add the node of this spec entry again by kind: its ``options``, or
    for a sub-graph and a sleep (whose specs describe them as ``g.add`` and ``g.sleep`` made
    them) the options saying the same; ``None`` when the entry holds none."""
    kind = entry.get("kind")
    if kind == "graph" and isinstance(entry.get("subgraph"), Mapping):
        ref = entry["subgraph"]
        return {"workflow": ref.get("workflow"), "version": ref.get("version")}
    if kind == "sleep" and isinstance(entry.get("sleep"), Mapping):
        said = dict(entry["sleep"])
        if "until_from" in said:
            return {"until_from": said["until_from"]}
        return said
    options = entry.get("options")
    return dict(options) if isinstance(options, Mapping) else None


def runs_code(entry: Mapping[str, Any]) -> bool:
    """Whether the spec entry's node runs Python code a spec does not hold (it then does not
    rebuild, nor become a draft's node)."""
    kind = entry.get("kind")
    options = spec_options(entry)
    if kind in _CODE_KINDS or (options is None and kind not in _DESCRIBED):
        return True
    return kind == "map" and not (options or {}).get("body")  # a function map


def from_spec(spec: Mapping[str, Any]) -> Graph:
    """The graph ``spec`` describes; ``GraphError`` names a node that cannot be rebuilt."""
    from runtime.graph import Graph

    if not isinstance(spec, Mapping) or not isinstance(spec.get("nodes"), list):
        raise GraphError("a graph spec is a dict with name and nodes (Graph.spec())")
    name = spec.get("name")
    graph = Graph(str(name or ""), description=str(spec.get("description") or ""))
    for entry in spec["nodes"]:
        node = entry.get("name")
        kind = entry.get("kind")
        if runs_code(entry):
            raise GraphError(
                f"graph {name!r}: node {node!r} is a {kind} node: it runs Python code that a "
                "spec does not hold, so it is not rebuilt from one"
            )
        policies = entry.get("policies", {})
        added = graph.add_node(
            node,
            kind,
            options=spec_options(entry),
            inputs=dict(entry.get("inputs") or {}),
            after=entry.get("after", ()),
            retries=policies.get("retries", 0),
            backoff=policies.get("backoff", 1.0),
            timeout=None if kind == "approval" else policies.get("timeout"),
            pickle=policies.get("pickle"),
            isolation=policies.get("isolation"),
            max_interruptions=policies.get("max_interruptions", 3),
            secrets=entry.get("secrets", ()),
            description=entry.get("doc", ""),
        )
        added.join = entry.get("join", "all")
        cache = entry.get("cache")
        if cache:
            added.cache = True if cache is True else dt.timedelta(seconds=cache)
    return graph
