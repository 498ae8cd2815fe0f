"""``rt.nodes.approval``, ``rt.nodes.sleep``, ``rt.nodes.subgraph`` and ``rt.nodes.map``: the
library's names for a wait for approval (the ``approval`` kind, ``runtime.nodes.approval``),
for kinds the graph builds already (``g.sleep``, a sub-graph through ``g.add``) and for a map
whose element body is a library node (``runtime.nodes.map_body``), so a graph can be written
with ``g.add(name, rt.nodes....)`` throughout. Each ``Spec`` here adds itself through that
builder; the node is the same as one the builder makes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from runtime.errors import GraphError
from runtime.nodes.approval import ApprovalKind
from runtime.nodes.library import Spec, spec

if TYPE_CHECKING:
    from runtime.graph import Graph
    from runtime.nodes.node import Node

_BUILDER_ONLY = ("after", "description")
_ADD_DEFAULTS: dict[str, Any] = {
    "inputs": None,
    "retries": 0,
    "backoff": 1.0,
    "timeout": None,
    "pickle": None,
    "isolation": None,
    "max_interruptions": 3,
    "secrets": (),
    "join": "all",
}
"""``g.add``'s policies as they are when not given: a parked node has no code they apply to."""


def _refuse_policies(
    kind: str, name: str, policies: dict[str, Any], allowed: tuple[str, ...]
) -> None:
    given = [
        k
        for k, v in policies.items()
        if k not in allowed and v != _ADD_DEFAULTS.get(k) and not (k == "secrets" and not v)
    ]
    if given:
        raise GraphError(f"{kind} node {name!r} takes no {', '.join(sorted(given))}")


@dataclass(frozen=True)
class SleepSpec(Spec):
    def add_to(self, graph: Graph, name: str, **policies: Any) -> Node:
        _refuse_policies("sleep", name, policies, _BUILDER_ONLY)
        return graph.sleep(name, after=policies.get("after", ()), **self.options)


@dataclass(frozen=True)
class SubgraphSpec(Spec):
    def add_to(self, graph: Graph, name: str, **policies: Any) -> Node:
        return graph.add(name, self.target, **policies)


@dataclass(frozen=True)
class ApprovalSpec(Spec):
    def add_to(self, graph: Graph, name: str, **policies: Any) -> Node:
        _refuse_policies("approval", name, policies, _BUILDER_ONLY)
        return graph.add_node(
            name,
            "approval",
            options=self.options,
            after=policies.get("after", ()),
            description=policies.get("description", ""),
        )


def sleep(
    seconds: float | dt.timedelta | None = None, *, until: dt.datetime | str | None = None
) -> Spec:
    """A durable timer (``g.sleep``): ``seconds``, or ``until`` a datetime (or the run input
    or node holding one)."""
    return SleepSpec("sleep", {"seconds": seconds, "until": until})


def subgraph(graph: Any) -> Spec:
    """Another ``Graph``, or a published ``"workflow@version"``, run as a child run."""
    return SubgraphSpec("graph", {}, graph)


def map(
    body: Spec,
    *,
    over: str,
    concurrency: int = 16,
    on_error: Literal["fail", "collect"] = "fail",
    retries: int = 0,
    backoff: float = 1.0,
    timeout: float | None = None,
) -> Spec:
    """A map node running the library node ``body`` (``rt.nodes.http(...)``) once per
    element of the list ``over`` (a node or run input) gives; in ``body``'s expressions,
    ``inputs.<over>`` (or ``nodes.<over>.output``) is one element. ``retries``, ``backoff``
    and ``timeout`` are each element's; ``on_error`` as for ``g.map``."""
    from runtime.nodes.map import MapKind

    if not isinstance(body, Spec) or isinstance(body, SleepSpec | SubgraphSpec | ApprovalSpec):
        raise GraphError(
            "rt.nodes.map(...): body is a library node, e.g. rt.nodes.http(...), got "
            f"{type(body).__name__}"
        )
    if body.target is not None:
        raise GraphError(
            "rt.nodes.map(...): the body's options must say it all (a model object or tools "
            'it holds cannot be mapped: give the model as "provider:model")'
        )
    return spec(
        MapKind,
        over=over,
        concurrency=concurrency,
        on_error=on_error,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
        body={"kind": body.kind, "options": body.options},
    )


def approval(
    approvers: list[str] | None = None,
    *,
    deadline: float | dt.timedelta | None = None,
    on_deadline: Literal["reject", "fail"] = "reject",
    description: str = "",
    require_comment: bool = False,
) -> Spec:
    """A wait for a person's decision (the ``approval`` kind): the payload is ``approved``
    (bool), ``approver`` (one of ``approvers`` when given) and a ``comment`` (required with
    ``require_comment``). With a ``deadline`` (seconds or a timedelta) an unanswered approval
    is rejected (``on_deadline="reject"``, approver ``None``) or fails the node
    (``"fail"``)."""
    if approvers is not None and (
        isinstance(approvers, str)
        or not approvers
        or not all(isinstance(a, str) for a in approvers)
    ):
        raise GraphError(f"rt.nodes.approval(...): approvers is a list of names, got {approvers!r}")
    if isinstance(deadline, dt.timedelta):
        deadline = deadline.total_seconds()
    checked = spec(
        ApprovalKind,
        approvers=approvers,
        deadline=deadline,
        on_deadline=on_deadline,
        description=description,
        require_comment=require_comment,
    )
    return ApprovalSpec(checked.kind, checked.options)
