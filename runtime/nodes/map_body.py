"""A map node whose element body is a library node rather than a Python function: the
``body`` option holds a kind and its options (``{"kind": "http", "options": {"url":
"{{ inputs.urls }}"}}``), so the map is whole in its options and a draft, a spec and an
exported file can hold it.

The body's expressions wire the map node as a library node's wire it; the one that names
``over`` (``inputs.urls``, or ``nodes.urls.output``) sees one element of that list per
element attempt, as a function map's parameter named like ``over`` does. A body is one
library node that executes code of its own: not a kind that parks its run (an approval, a
sleep, a sub-graph), chooses successors (a filter, a router) or drives parts of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from runtime.errors import GraphError

if TYPE_CHECKING:
    from runtime.nodes.kind import NodeKind
    from runtime.nodes.node import Node


class MapBody(pydantic.BaseModel):
    """What a map node runs per element: one library node, by kind and options."""

    model_config = pydantic.ConfigDict(extra="forbid")

    kind: str = pydantic.Field(description="A library node kind (http, template, code, llm...).")
    options: dict[str, Any] = pydantic.Field(
        default_factory=dict, description="That kind's options; its expressions may name over."
    )


def body_problem(kind: NodeKind) -> str | None:
    """Why nodes of ``kind`` cannot be a map's body (``None``: they can)."""
    from runtime.drafts import is_buildable

    if not is_buildable(kind):
        return f"kind {kind.name!r} is not a library node"
    if kind.parks or kind.routes or kind.drives:
        what = "parks its run" if kind.parks else "chooses successors" if kind.routes else "drives"
        return (
            f"kind {kind.name!r} {what}: a map body is one library node run per element "
            "(template, transform, parse, http, code, prompt, llm)"
        )
    return None


@dataclass(frozen=True)
class BodyCall:
    """A map node's target when its body is a library node: called once per element with
    the node's arguments (the element under ``over``), it runs the body as its kind runs a
    node of its own."""

    node: Node
    """The body as a node of its kind, named like the map node (its errors name it)."""

    def __call__(self, **kwargs: Any) -> Any:
        impl = self.node.kind_impl
        call = impl.call(self.node, kwargs)
        result = call.fn(**call.kwargs)
        if call.is_async:  # an element runs in a node thread: its own loop for a coroutine
            return asyncio.run(result)
        return result


def body_node(name: str, over: str, body: MapBody) -> Node:
    """The body of map node ``name`` as a node of its kind, checked: ``GraphError`` names the
    map node and the body's field (``field body.options.url: ...``) otherwise."""
    from runtime.graph import Graph
    from runtime.nodes.registry import kind_of

    try:
        impl = kind_of(body.kind)
    except GraphError as exc:
        raise GraphError(f"map node {name!r}: field body.kind: {exc}") from None
    problem = body_problem(impl)
    if problem is not None:
        raise GraphError(f"map node {name!r}: field body.kind: {problem}")
    if body.options.get("tools"):
        raise GraphError(
            f"map node {name!r}: field body.options.tools: a map body's llm calls no tools"
        )
    try:
        node = Graph("body").add_node(name, impl.name, options=body.options, inputs={})
    except GraphError as exc:
        raise GraphError(f"map node {name!r}: field body.options: {exc}") from None
    if node.secrets:
        raise GraphError(
            f"map node {name!r}: field body.options: the body reads secrets "
            f"({', '.join(node.secrets)}), which a map's elements are not given"
        )
    if over not in node.inputs:
        raise GraphError(
            f"map node {name!r}: field over: the body reads no {over!r} to receive one element "
            f"(write inputs.{over} or nodes.{over}.output in its options; it reads: "
            f"{', '.join(node.inputs) or 'nothing'})"
        )
    return node


def prepare_map(node: Node) -> None:
    """Wire a map node whose options hold a body: its target runs the body, its parameters
    are the body's (the one named like ``over`` gets one element), its options hold the
    body's options as that kind validated them (so that every way of writing the same body
    makes the same version)."""
    from runtime.nodes.map import MapOptions

    opts = MapOptions.model_validate(node.options or {})
    if opts.body is None:
        return
    if opts.over in node.inputs and node.inputs[opts.over] != opts.over:
        raise GraphError(
            f"map node {node.name!r}: parameter {opts.over!r} gets the elements of "
            f"{opts.over!r}; it cannot be rewired with inputs"
        )
    body = body_node(node.name, opts.over, opts.body)
    assert node.options is not None
    node.options = {**node.options, "body": {"kind": body.kind, "options": body.options or {}}}
    node.target = BodyCall(body)
    for param, source in body.inputs.items():
        node.inputs.setdefault(param, source)
    for param, (what, where) in body.expects.items():
        node.expects[param] = (what, f"body.options.{where}")
    node.annotations.update(body.annotations)
    node.defaults.update(body.defaults)
    node.defaults.pop(opts.over, None)
    node.annotations.pop(opts.over, None)  # the element's type, not the list's
    if body.expects.get(opts.over, ("", ""))[0] == "input":
        node.annotations[opts.over] = list  # a run input mapped over must be a list


def check_map(node: Node) -> None:
    """Refuse what a map node with a body does not take: its retries, backoff and timeout
    are each element's (options), and its attempt drives its elements in the pass's own
    process."""
    from runtime.nodes.map import MapOptions

    if MapOptions.model_validate(node.options or {}).body is None:
        raise GraphError(
            f"map node {node.name!r}: field body: a map added by kind runs a library node per "
            "element: give body (a function map is g.map(name, fn, over=...))"
        )
    for policy, default in (("retries", 0), ("backoff", 1.0), ("timeout", None)):
        if getattr(node, policy) != default:
            raise GraphError(
                f"map node {node.name!r}: {policy} of a map is each element's: set it in its "
                f"options (options.{policy})"
            )
    if node.isolation == "process":
        raise GraphError(
            f"map node {node.name!r}: isolation of a map is its driver's, which runs in the "
            "pass's process"
        )
