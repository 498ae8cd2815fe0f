"""The node kinds a graph can use here, as the builder lists them: each with its options'
JSON schema and the form fields that schema gives (``forms.wait_fields``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime import nodes
from studio.logic import forms


@dataclass
class NodeKindRow:
    """One node kind, built in or from a ``plait.nodes`` plug-in."""

    name: str
    doc: str
    """The first paragraph of its documentation."""
    options: dict[str, Any]
    """JSON schema of its options (``{}`` when it takes none)."""
    fields: list[forms.FormField] = field(default_factory=list)
    """The options form: one field per option."""
    parks: str | None = None
    """``waiting`` for a kind that stops its run for an answer."""


def node_kinds() -> list[NodeKindRow]:
    """Every known kind, by name (plug-ins that do not load are left out, and logged)."""
    return [
        NodeKindRow(
            name=kind["name"],
            doc=kind["doc"],
            options=kind["options"],
            fields=forms.wait_fields(kind["options"]) if kind["options"] else [],
            parks=kind["parks"],
        )
        for kind in nodes.described()
    ]
