"""The editor's document as a ``Graph``, built the way a notebook builds one
(``g.add(name, rt.nodes.<kind>(...))``), so it is checked by the very same code: unknown
kinds, missing or ill-typed options, expressions that do not parse, references to unknown
nodes, cycles. ``problems`` gathers every problem it can, each on the node it belongs to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import GraphError
from runtime.graph import Graph
from runtime.nodes.library import spec
from runtime.nodes.registry import kind_of

GRAPH = ""
"""``Problem.node`` of a problem of the workflow as a whole (a run input, no nodes)."""
_QUOTED = re.compile(r"'([^']+)'")
_CYCLE = re.compile(r"has a cycle: (.+)$")
_PREFIX = re.compile(r"^(node '[^']+'|rt\.nodes\.\w+\(\.\.\.\)): ")


@dataclass
class Problem:
    node: str
    """The node it is about (``GRAPH``: the workflow)."""
    message: str


def graph_of(doc: Mapping[str, Any]) -> Graph:
    """The document's graph, validated: ``GraphError`` names the first problem."""
    graph = Graph(_graph_name(doc), description=doc.get("description", ""))
    typed = _input_types(doc)
    incoming = _incoming(doc)
    for node in doc["nodes"]:
        _add(graph, node, incoming.get(node["name"], []), typed)
    for problem in _input_problems(doc):
        raise GraphError(problem.message)
    return graph.validate()


@dataclass
class Checked:
    """What checking a document found."""

    problems: list[Problem]
    wired: list[list[str]]
    """``[source, target]`` pairs an expression wires that no drawn edge joins."""
    run_inputs: list[str]
    """The run inputs its expressions read, in node order."""


def problems(doc: Mapping[str, Any]) -> list[Problem]:
    return check(doc).problems


def check(doc: Mapping[str, Any]) -> Checked:
    """Every problem of the document: each node that cannot be added (its options, its
    expressions), then those of the graph as a whole, one after another (a node found
    wrong is set aside and the graph checked again, so one error does not hide the next)."""
    found = list(_input_problems(doc))
    if not doc["nodes"]:
        found.append(Problem(GRAPH, "the workflow has no nodes: add one from the palette"))
        return Checked(found, [], [])
    graph = Graph(_graph_name(doc))
    typed = _input_types(doc)
    incoming = _incoming(doc)
    for node in doc["nodes"]:
        try:
            _add(graph, node, incoming.get(node["name"], []), typed)
        except GraphError as exc:
            found.append(Problem(node["name"], _short(str(exc))))
            _stand_in(graph, node["name"], incoming.get(node["name"], []))
    names = set(graph.nodes)
    for _ in range(len(names)):
        try:
            graph.validate()
            break
        except GraphError as exc:
            message = str(exc)
            cycle = _CYCLE.search(message)
            if cycle:
                members = dict.fromkeys(cycle.group(1).split(" -> "))
                found.extend(Problem(n, f"in a cycle: {cycle.group(1)}") for n in members)
                break
            culprit = next((q for q in _QUOTED.findall(message) if q in names), GRAPH)
            found.append(Problem(culprit, _short(message)))
            if culprit == GRAPH:
                break
            _stand_in(graph, culprit, incoming.get(culprit, []))
    drawn = {tuple(e) for e in doc["edges"]}
    wired: list[list[str]] = []
    reads: dict[str, None] = {}
    for node in graph.nodes.values():
        for param, (what, _) in node.expects.items():
            source = node.inputs.get(param, param)
            if what == "node" and source in graph.nodes and (source, node.name) not in drawn:
                wired.append([source, node.name])
            elif what == "input":
                reads[source] = None
    return Checked(found, wired, list(reads))


def by_node(found: list[Problem]) -> dict[str, str]:
    """Node -> its problems in one line (what the canvas shows on the node)."""
    out: dict[str, str] = {}
    for p in found:
        if p.node != GRAPH:
            out[p.node] = f"{out[p.node]}; {p.message}" if p.node in out else p.message
    return out


def _graph_name(doc: Mapping[str, Any]) -> str:
    return str(doc.get("name") or "untitled")


def _incoming(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    names = {n["name"] for n in doc["nodes"]}
    out: dict[str, list[str]] = {}
    for s, t in doc["edges"]:
        if s in names:
            out.setdefault(t, []).append(s)
    return out


def _input_types(doc: Mapping[str, Any]) -> dict[str, str]:
    return {i["name"]: i["type"] for i in doc["inputs"] if i.get("type", "str") != "str"}


def _add(graph: Graph, node: Mapping[str, Any], after: list[str], typed: dict[str, str]) -> None:
    name = node["name"]
    try:
        kind = kind_of(node["kind"])
    except GraphError as exc:
        raise GraphError(f"node {name!r}: {exc}") from None
    if kind.options is None:
        raise GraphError(
            f"node {name!r}: a {kind.name} node holds Python code: add it in a notebook"
        )
    config = dict(node.get("config") or {})
    if typed and "input_types" in kind.options.model_fields:
        config["input_types"] = {**typed, **config.get("input_types", {})}
    graph.add(name, spec(type(kind), **config), after=after)


def _stand_in(graph: Graph, name: str, after: list[str]) -> None:
    """A node that checks nothing in place of a wrong one: nodes naming it still find it,
    and a cycle through it is still seen."""
    graph.nodes.pop(name, None)
    graph.__dict__.pop("plan", None)
    graph.add(name, spec(type(kind_of("template")), template=""), after=after)


def _input_problems(doc: Mapping[str, Any]) -> list[Problem]:
    out = []
    seen: set[str] = set()
    for i in doc["inputs"]:
        name = i["name"]
        if not name.isidentifier():
            out.append(Problem(GRAPH, f"run input {name!r}: a name is an identifier"))
        elif name in seen:
            out.append(Problem(GRAPH, f"run input {name!r} is declared twice"))
        seen.add(name)
        try:
            default_value(i)
        except ValueError as exc:
            out.append(Problem(GRAPH, f"run input {name!r}: {exc}"))
    return out


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


def _short(message: str) -> str:
    """Without the ``node 'x': `` the node already shows."""
    return _PREFIX.sub("", message, count=1)
