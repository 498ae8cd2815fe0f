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
from runtime.nodes.kind import options_schema
from runtime.nodes.library import LibraryKind
from runtime.nodes.registry import kind_of
from runtime.nodes.secret_options import named_secrets
from studio.logic import editor, editor_policies


def expression_refs(kind: str, config: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The nodes and the run inputs the expressions of a node's ``config`` read (empty
    where the config does not parse yet: validation says why)."""
    try:
        key = json.dumps(config, sort_keys=True)
    except (TypeError, ValueError):
        return _refs(kind, config)
    nodes, inputs = _cached_refs(kind, key)
    return list(nodes), list(inputs)


@functools.lru_cache(maxsize=4096)
def _cached_refs(kind: str, config: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # an edit changes one node: the other nodes' expressions need not be parsed again
    nodes, inputs = _refs(kind, json.loads(config))
    return tuple(nodes), tuple(inputs)


def _refs(kind: str, config: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    try:
        impl = kind_of(kind)
    except (GraphError, TypeError):
        return [], []
    if not isinstance(impl, LibraryKind) or impl.options is None:
        return [], []
    try:
        refs = impl.named("_", impl.options.model_validate(dict(config)))
    except (pydantic.ValidationError, GraphError, TypeError, ValueError):
        return [], []
    return list(refs.nodes), list(refs.inputs)


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
            reads, _ = expression_refs(node["kind"], node.get("config") or {})
        after = [s for s, t in doc["edges"] if t == node["name"] and s not in reads]
        entry: dict[str, Any] = {
            "name": node["name"],
            "kind": node["kind"],
            "options": dict(node.get("config") or {}),
            "after": list(dict.fromkeys(after)),
            "position": {"x": float(node["x"]), "y": float(node["y"])},
        }
        # those its options name are declared when it is built (``LibraryKind.prepare``)
        if node.get("secrets"):
            entry["secrets"] = list(node["secrets"])
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
        # only the secrets no option names are kept aside: the named ones follow the options
        named = option_secrets(node["kind"], config)
        if extra := [s for s in node.get("secrets") or [] if s not in named]:
            item["secrets"] = extra
        if policies := editor_policies.from_draft_node(node):
            item["policies"] = policies
        doc["nodes"].append(item)
        reads, _ = expression_refs(node["kind"], config)
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
