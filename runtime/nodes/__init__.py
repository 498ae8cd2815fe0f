"""Node kinds as plug-ins: ``Node`` (one step of a graph), ``NodeKind`` (what a kind tells
the engine, the spec and the views) and the registry of kinds, built-in and from the
``plait.nodes`` entry point group."""

from runtime.nodes.kind import Call, NodeKind, Scope, options_schema, validated_options
from runtime.nodes.node import ISOLATIONS, JOINS, Isolation, Join, Node
from runtime.nodes.registry import ENTRY_POINT_GROUP, described, kind_of, kinds, register

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
    "described",
    "kind_of",
    "kinds",
    "options_schema",
    "register",
    "validated_options",
]
