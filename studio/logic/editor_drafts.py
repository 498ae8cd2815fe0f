"""The editor's document (``studio.logic.editor``) as a draft (``runtime.drafts``) and back.

A node's ``x``/``y`` become its ``position``; the secrets its options name (and any other
it declares, its ``secrets`` in the document) its ``secrets``; a drawn edge ``a -> b``
becomes ``b``'s ``after`` only when none of ``b``'s expressions reads ``a`` (the expression
wires it already); the run inputs' list becomes the draft's ``inputs`` object, and their
defaults its ``test_inputs``; a node's ``policies`` (``studio.logic.editor_policies``) are
its draft node's policy keys. Reading a draft back draws every edge, ``after`` and expression alike,
as the canvas showed them when they were drawn.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import pydantic

from runtime.errors import GraphError
from runtime.graph import Graph
from runtime.nodes.kind import options_schema
from runtime.nodes.library import LibraryKind
from runtime.nodes.registry import kind_of
from runtime.nodes.secret_options import named_secrets
from studio.logic import editor, editor_policies


def expression_refs(
    kind: str, config: Mapping[str, Any], wiring: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """The nodes and the run inputs a node reads: what the expressions of its ``config``
    name, what a kind that is no expression language (a map's body, a sub-graph's
    parameters) wires, and its explicit ``wiring`` (parameter -> source). Callers tell
    nodes from run inputs by the document's names. Empty where the config does not parse
    yet: validation says why."""
    try:
        key = json.dumps([config, wiring or {}], sort_keys=True)
    except (TypeError, ValueError):
        return _refs(kind, config, wiring or {})
    nodes, inputs = _cached_refs(kind, key)
    return list(nodes), list(inputs)


@functools.lru_cache(maxsize=4096)
def _cached_refs(kind: str, key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # an edit changes one node: the other nodes' expressions need not be parsed again
    config, wiring = json.loads(key)
    nodes, inputs = _refs(kind, config, wiring)
    return tuple(nodes), tuple(inputs)


def _refs(
    kind: str, config: Mapping[str, Any], wiring: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    try:
        impl = kind_of(kind)
    except (GraphError, TypeError):
        return [], []
    if impl.options is None:
        return [], []
    explicit = [str(s) for s in wiring.values()]
    if not isinstance(impl, LibraryKind):
        # what the kind itself wires when its node is made (a map's ``over`` and body, a
        # sub-graph's parameters): the sources of the node it builds
        try:
            node = Graph("_refs").add_node("_refs", kind, options=dict(config), inputs=wiring)
        except Exception:
            return explicit, explicit
        sources = list(dict.fromkeys([*node.inputs.values(), *explicit]))
        return sources, sources
    try:
        refs = impl.named("_", impl.options.model_validate(dict(config)))
    except (pydantic.ValidationError, GraphError, TypeError, ValueError):
        return explicit, explicit
    return list(dict.fromkeys([*refs.nodes, *explicit])), list(refs.inputs)


def option_secrets(kind: str, config: Mapping[str, Any]) -> list[str]:
    """The stored secrets a node's options name (the fields its kind marks as secret
    names, ``runtime.nodes.secret_options``)."""
    try:
        return named_secrets(options_schema(kind_of(kind)), dict(config))
    except (GraphError, TypeError):
        return []


def to_draft(
    doc: Mapping[str, Any], refs: Mapping[str, tuple[list[str], list[str]]] | None = None
) -> dict[str, Any]:
    """The draft that ``runtime.drafts`` saves, validates and builds for ``doc``; ``refs``:
    each node's ``expression_refs`` when the caller has them already."""
    nodes = []
    for node in doc["nodes"]:
        if refs is not None and node["name"] in refs:
            reads = refs[node["name"]][0]
        else:
            reads, _ = expression_refs(node["kind"], node.get("config") or {}, node.get("inputs"))
        after = [s for s, t in doc["edges"] if t == node["name"] and s not in reads]
        entry: dict[str, Any] = {
            "name": node["name"],
            "kind": node["kind"],
            "options": dict(node.get("config") or {}),
            "after": list(dict.fromkeys(after)),
            "position": {"x": float(node["x"]), "y": float(node["y"])},
        }
        if node.get("inputs"):  # a parameter wired to another source than its name
            entry["inputs"] = dict(node["inputs"])
        # the secrets its options name are declared when it is built (``LibraryKind.prepare``,
        # after these): those its options named when it was opened but name no more go
        stale = set(node.get("named_secrets") or []) - set(
            option_secrets(node["kind"], node.get("config") or {})
        )
        if kept := [s for s in node.get("secrets") or [] if s not in stale]:
            entry["secrets"] = kept
        entry.update(node.get("policies") or {})  # under the keys a draft node holds them
        nodes.append(entry)
    inputs: dict[str, Any] = {}
    test_inputs: dict[str, Any] = {}
    for declared in doc["inputs"]:
        inputs[declared["name"]] = {
            "type": declared.get("type", "str"),
            "default": declared.get("default", ""),
            "description": declared.get("description", ""),
        }
        try:
            value = default_value(declared)
        except ValueError:
            continue  # the editor names the bad default (``editor_check``)
        if value is not None:
            test_inputs[declared["name"]] = value
    return {
        "name": doc["name"],
        "description": doc.get("description", ""),
        "nodes": nodes,
        "inputs": inputs,
        "test_inputs": test_inputs,
    }


def from_draft(draft: Mapping[str, Any]) -> editor.Document:
    """The document of a saved draft (or of ``drafts.draft_from_spec``); laid out anew when
    no node has a position."""
    doc = editor.new_document(str(draft.get("name") or "untitled"))
    doc["description"] = draft.get("description", "")
    typed: dict[str, str] = {}
    names = [n["name"] for n in draft.get("nodes", [])]
    placed = False
    for node in draft.get("nodes", []):
        config = dict(node.get("options") or {})
        typed.update(config.pop("input_types", {}) or {})
        position = node.get("position") or {}
        placed = placed or bool(position)
        item = {
            "name": node["name"],
            "kind": node["kind"],
            "config": config,
            "x": float(position.get("x", 0)),
            "y": float(position.get("y", 0)),
        }
        # kept in their order (a version's hash holds it); which of them the options named
        # is kept too, so that a changed option drops its old secret (``to_draft``)
        if declared := list(node.get("secrets") or []):
            item["secrets"] = declared
            if named := [s for s in option_secrets(node["kind"], config) if s in declared]:
                item["named_secrets"] = named
        if wiring := {p: s for p, s in (node.get("inputs") or {}).items() if p != s}:
            item["inputs"] = wiring  # the same name is wired by itself
        if policies := editor_policies.from_draft_node(node):
            item["policies"] = policies
        doc["nodes"].append(item)
        reads, _ = expression_refs(node["kind"], config, item.get("inputs"))
        sources = [*(node.get("after") or []), *(s for s in reads if s in names)]
        doc["edges"].extend([s, node["name"]] for s in dict.fromkeys(sources))
    for name, about in (draft.get("inputs") or {}).items():
        about = about if isinstance(about, Mapping) else {"type": about}
        doc["inputs"].append(
            {
                "name": name,
                "type": typed.get(name, about.get("type") or "str"),
                "default": str(about.get("default", "")),
                "description": str(about.get("description", "")),
            }
        )
    return doc if placed or not doc["nodes"] else editor.auto_layout(doc)


def default_value(declared: Mapping[str, Any]) -> Any:
    """A declared run input's default as its type (``None``: none given); ``ValueError``
    says why the text is no such value."""
    text, kind = str(declared.get("default", "")), declared.get("type", "str")
    if text == "":
        return None
    if kind == "str":
        return text
    try:
        value = json.loads(text)
    except ValueError:
        if kind == "any":
            return text
        raise ValueError(f"default {text!r} is not a {kind}") from None
    expected: dict[str, type | tuple[type, ...]] = {
        "int": int,
        "float": (int, float),
        "bool": bool,
        "dict": dict,
        "list": list,
    }
    wanted = expected.get(kind)
    if wanted is not None and (
        not isinstance(value, wanted) or (kind in ("int", "float") and isinstance(value, bool))
    ):
        raise ValueError(f"default {text!r} is not a {kind}")
    return float(value) if kind == "float" else value
