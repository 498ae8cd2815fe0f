"""Node kinds as plug-ins: ``Node`` (one step of a graph), ``NodeKind`` (what a kind tells
the engine, the spec and the views) and the registry of kinds, built-in and from the
``plait.nodes`` entry point group."""

from runtime.nodes.kind import Call, NodeKind, Scope, options_schema, validated_options
from runtime.nodes.models import register_provider
from runtime.nodes.node import ISOLATIONS, JOINS, Isolation, Join, Node

# The library's constructors (``rt.nodes.http(...)``) come last: ``sleep``, ``subgraph`` and
# ``map`` then name them rather than the modules of the same names (imported, by then, by
# the registry; ``from runtime.nodes.sleep import ...`` still finds the module).
from runtime.nodes.palette import (
    code,
    filter,
    http,
    llm,
    parse,
    prompt,
    router,
    template,
    transform,
)
from runtime.nodes.registry import ENTRY_POINT_GROUP, described, kind_of, kinds, register
from runtime.nodes.tools import register_tool, tool
from runtime.nodes.wrappers import approval, map, sleep, subgraph

__all__ = [
    "ENTRY_POINT_GROUP",
    "ISOLATIONS",
    "JOINS",
    "Call",
    "Isolation",
    "Join",
    "Node",
    "NodeKind",
    "Scope",
    "approval",
    "code",
    "described",
    "filter",
    "http",
    "kind_of",
    "kinds",
    "llm",
    "map",
    "options_schema",
    "parse",
    "prompt",
    "register",
    "register_provider",
    "register_tool",
    "router",
    "sleep",
    "subgraph",
    "template",
    "tool",
    "transform",
    "validated_options",
]
