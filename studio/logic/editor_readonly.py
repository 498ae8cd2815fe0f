"""A published version the editor shows but does not edit: one defined in Python code (its
function nodes are code a draft cannot hold), or an older version opened by its hash.

Its document is drawn as the editor draws a draft, every node of the version in it, the
Python ones marked; what it says of a node picked is ``studio.logic.version_node``'s view
(the source a function node runs, its options, wiring and policies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime import drafts
from runtime.errors import PlaitError
from studio.logic import editor, editor_drafts, editor_policies

PYTHON_BANNER = "Defined in Python code: read only here. Change it in its notebook or module."
VERSION_BANNER = "An older version: read only here. Open it as the draft to edit it."


@dataclass
class VersionDocument:
    """What the editor shows of a version."""

    doc: editor.Document
    python: list[str] = field(default_factory=list)
    """The nodes that are Python code (a function, a wait, a subgraph)."""
    draftable: bool = False
    """Every node is a library node: ``drafts.open_as_draft`` can make it the draft."""
    why: str = ""
    """Why it is not draftable (``drafts.draft_from_spec``'s message)."""


def python_nodes(spec: Mapping[str, Any]) -> list[str]:
    """The nodes of a version that run Python code rather than a library kind's options."""
    return list(drafts.python_nodes(spec))


def version_document(spec: Mapping[str, Any]) -> VersionDocument:
    """The document of a version: its draft's when it is made of library nodes, else its
    nodes as the version stored them (options as config, policies kept), edges as it runs
    them, laid out."""
    try:
        draft = drafts.draft_from_spec(spec)
    except PlaitError as exc:
        why = str(exc)
    else:
        return VersionDocument(editor_drafts.from_draft(draft), [], True, "")
    doc = editor.new_document(str(spec.get("name") or "untitled"))
    doc["description"] = spec.get("description", "")
    for entry in spec.get("nodes", []):
        policies = {**(entry.get("policies") or {})}
        if policies.get("pickle") is False:  # the spec holds it resolved: false is the default
            policies.pop("pickle")
        for key in ("join", "cache"):
            if key in entry:
                policies[key] = entry[key]
        config = dict(entry.get("options") or {})
        config.pop("input_types", None)  # the run inputs' types: the editor's own
        item: dict[str, Any] = {
            "name": entry["name"],
            "kind": entry["kind"],
            "config": config,
            "x": 0.0,
            "y": 0.0,
        }
        if kept := editor_policies.from_draft_node(policies):
            item["policies"] = kept
        doc["nodes"].append(item)
    names = {n["name"] for n in doc["nodes"]}
    doc["edges"] = [
        [s, t] for s, t in spec.get("edges", []) if s in names and t in names and s != t
    ]
    for name, about in (spec.get("inputs") or {}).items():
        default = about.get("default", "") if isinstance(about, Mapping) else ""
        doc["inputs"].append(
            {
                "name": name,
                "type": "any",
                "default": "" if default is None else str(default),
                "description": "",
            }
        )
    return VersionDocument(editor.auto_layout(doc), python_nodes(spec), False, why)
