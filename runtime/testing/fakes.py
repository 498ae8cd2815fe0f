"""Stand-ins for a graph's nodes in a test: a fixed value, a function, or a LangChain
runnable (a fake chat model put where the chain's model was)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from runtime.errors import GraphError
from runtime.graph import Graph, _is_runnable
from runtime.nodes.node import Node

_CALLABLE_KINDS = {"function", "branch", "map"}
"""Kinds whose target is a function called with the node's inputs: a fake takes its place."""


def faked(graph: Graph, fakes: Mapping[str, Any]) -> Graph:
    """A copy of ``graph`` with the named nodes replaced; ``graph`` is not changed."""
    if not fakes:
        return graph
    unknown = [name for name in fakes if name not in graph.nodes]
    if unknown:
        raise GraphError(
            f"fakes name no node of graph {graph.name!r}: {', '.join(map(repr, unknown))} "
            f"(nodes: {', '.join(graph.nodes)})"
        )
    copied = copy.copy(graph)
    copied.__dict__.pop("plan", None)  # the copy validates its own nodes
    copied.nodes = dict(graph.nodes)
    for name, fake in fakes.items():
        copied.nodes[name] = _fake_node(graph.nodes[name], fake)
    copied.plan  # noqa: B018 -- a fake that breaks the graph is an error here, not at run time
    return copied


def _fake_node(node: Node, fake: Any) -> Node:
    parks = node.kind_impl.parks
    if parks == "waiting":
        raise GraphError(
            f"wait node {node.name!r} cannot be faked: answer it with "
            f"answers={{{node.name!r}: {{...}}}}"
        )
    if parks == "sleeping":
        raise GraphError(
            f"sleep node {node.name!r} cannot be faked: a test clock passes it at once"
        )
    if _is_runnable(fake):
        if node.kind == "runnable":
            return dataclasses.replace(node, target=_with_model(node.target, fake))
        return _as_function(node, _invoking(fake, node))
    if callable(fake):
        return _as_function(node, _called(fake))
    return _as_function(node, _returning(fake))


def _as_function(node: Node, fn: Callable[..., Any]) -> Node:
    # a fixed fingerprint per fake: two tests faking the same node differently publish two
    # versions, so neither runs the other's fake
    token = uuid.uuid4().hex
    fn.plait_fingerprint = lambda: f"plait.testing fake {token}"  # type: ignore[attr-defined]
    kind = node.kind if node.kind in _CALLABLE_KINDS else "function"
    return dataclasses.replace(node, kind=kind, target=fn)


def _returning(value: Any) -> Callable[..., Any]:
    def fake(**inputs: Any) -> Any:
        return value

    return fake


def _called(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the inputs it names (all of them when it takes ``**kwargs``)."""
    params = inspect.signature(fn).parameters.values()
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params)
    names = {p.name for p in params}

    def pick(inputs: dict[str, Any]) -> dict[str, Any]:
        return inputs if takes_all else {k: v for k, v in inputs.items() if k in names}

    if inspect.iscoroutinefunction(fn):

        async def afake(**inputs: Any) -> Any:
            return await fn(**pick(inputs))

        return functools.update_wrapper(afake, fn, assigned=("__doc__",))

    def fake(**inputs: Any) -> Any:
        return fn(**pick(inputs))

    return functools.update_wrapper(fake, fn, assigned=("__doc__",))


def _invoking(runnable: Any, node: Node) -> Callable[..., Any]:
    """A runnable standing in for a function: its one input's value, or the dict of them."""

    def fake(**inputs: Any) -> Any:
        return runnable.invoke(next(iter(inputs.values())) if len(inputs) == 1 else inputs)

    return fake


def _with_model(target: Any, fake: Any) -> Any:
    """The chain ``target`` with its language model replaced by ``fake`` when ``fake`` is a
    model and the chain has one (``prompt | model | parser`` keeps its prompt and parser);
    else ``fake`` in place of the whole runnable."""
    from langchain_core.language_models import BaseLanguageModel
    from langchain_core.runnables import RunnableSequence

    if not isinstance(fake, BaseLanguageModel) or not isinstance(target, RunnableSequence):
        return fake
    steps = list(target.steps)
    models = [i for i, step in enumerate(steps) if isinstance(step, BaseLanguageModel)]
    if not models:
        return fake
    steps[models[0]] = fake
    return RunnableSequence(*steps)
