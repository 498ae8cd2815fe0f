"""A graph rebuilt from a stored spec (``Graph.spec()``, a published version's ``spec``): what
the studio's builder stores is JSON, and each node is added again by its kind and options as
``g.add_node`` adds one. Only nodes that run from their options alone rebuild (the node
library's kinds, ``approval``, a plug-in's kinds that need no target); a node that runs
Python code (a function, a runnable, a map) is refused by name, as is an ``llm`` tool that
cannot be found here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.errors import GraphError

if TYPE_CHECKING:
    from runtime.graph import Graph

_CODE_KINDS = ("function", "runnable", "map", "branch", "graph", "wait", "sleep")
"""Built-in kinds whose nodes hold what no spec does (code, a payload model, a child graph)."""


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
        if kind in _CODE_KINDS or (kind != "approval" and "options" not in entry):
            raise GraphError(
                f"graph {name!r}: node {node!r} is a {kind} node: it runs Python code that a "
                "spec does not hold, so it is not rebuilt from one"
            )
        policies = entry.get("policies", {})
        added = graph.add_node(
            node,
            kind,
            options=entry.get("options"),
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
