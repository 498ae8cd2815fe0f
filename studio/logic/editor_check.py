"""The editor's document checked by ``runtime.drafts.validate``, the very checks the REST
API and publishing apply (unknown kinds, missing or ill-typed options, expressions that do
not parse, references to unknown nodes, cycles): this module only puts each problem on the
node the canvas shows it on, and adds what only the document holds (its run inputs' rows:
names, duplicates and default texts, which the draft's ``inputs`` object cannot express).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime import drafts
from runtime.graph import Graph
from studio.logic.editor_drafts import default_value, expression_refs, to_draft

__all__ = ["GRAPH", "Checked", "Problem", "by_node", "check", "default_value", "graph_of"]

GRAPH = ""
"""``Problem.node`` of a problem of the workflow as a whole (a run input, no nodes)."""


@dataclass
class Problem:
    node: str
    """The node it is about (``GRAPH``: the workflow)."""
    message: str


def graph_of(doc: Mapping[str, Any]) -> Graph:
    """The document's graph, as ``drafts.build`` makes it: ``DraftInvalid`` lists the
    problems."""
    for problem in _input_problems(doc):
        raise drafts.DraftInvalid(
            str(doc.get("name") or "?"), [drafts.Problem(None, "inputs", problem.message)]
        )
    return drafts.build(to_draft(doc))


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
    """Every problem of the document (``drafts.validate`` of its draft), each on its node."""
    found = list(_input_problems(doc))
    names = {n["name"] for n in doc["nodes"]}
    refs = {
        n["name"]: expression_refs(n["kind"], n.get("config") or {}, n.get("inputs"))
        for n in doc["nodes"]
    }
    for p in drafts.validate(to_draft(doc, refs)):
        node = p.node if p.node in names else GRAPH
        where = p.field if node else ".".join(x for x in (p.node, p.field) if x)
        found.append(Problem(node or GRAPH, f"{where}: {p.message}" if where else p.message))
    drawn = {tuple(e) for e in doc["edges"]}
    wired: list[list[str]] = []
    reads: dict[str, None] = {}
    for node in doc["nodes"]:
        sources, inputs = refs[node["name"]]
        wired += [
            [s, node["name"]] for s in sources if s in names and (s, node["name"]) not in drawn
        ]
        reads.update(dict.fromkeys(i for i in inputs if i not in names))
    return Checked(found, wired, list(reads))


def by_node(found: list[Problem]) -> dict[str, str]:
    """Node -> its problems in one line (what the canvas shows on the node)."""
    out: dict[str, str] = {}
    for p in found:
        if p.node != GRAPH:
            out[p.node] = f"{out[p.node]}; {p.message}" if p.node in out else p.message
    return out


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
