"""``rt.nodes.approval``, ``rt.nodes.sleep`` and ``rt.nodes.subgraph``: the library's names
for kinds the graph builds already (``g.wait``, ``g.sleep``, a sub-graph through ``g.add``),
so a graph can be written with ``g.add(name, rt.nodes....)`` throughout. Each ``Spec`` here
adds itself through that builder; the node is the same as one the builder makes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from runtime.errors import GraphError
from runtime.nodes.library import Spec

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
    schema: Any = field(default=None)

    def add_to(self, graph: Graph, name: str, **policies: Any) -> Node:
        _refuse_policies("approval", name, policies, _BUILDER_ONLY)
        deadline = self.options.get("deadline")
        extra = {}
        if deadline is not None and self.options["on_deadline"] == "reject":
            extra["default"] = {"approved": False, "approver": None, "comment": "deadline passed"}
        return graph.wait(
            name,
            self.schema,
            after=policies.get("after", ()),
            description=self.options.get("description", ""),
            timeout=deadline,
            **extra,
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


def approval(
    approvers: list[str] | None = None,
    *,
    deadline: float | dt.timedelta | None = None,
    on_deadline: Literal["reject", "fail"] = "reject",
    description: str = "",
) -> Spec:
    """A wait for a person's decision: the payload is ``approved`` (bool), ``approver`` (one
    of ``approvers`` when given) and a ``comment``. With a ``deadline`` (seconds or a
    timedelta) an unanswered approval is rejected (``on_deadline="reject"``, approver
    ``None``) or fails the node (``"fail"``)."""
    if approvers is not None and (
        isinstance(approvers, str)
        or not approvers
        or not all(isinstance(a, str) for a in approvers)
    ):
        raise GraphError(f"rt.nodes.approval(...): approvers is a list of names, got {approvers!r}")
    if on_deadline not in ("reject", "fail"):
        raise GraphError(
            f"rt.nodes.approval(...): on_deadline is reject or fail, got {on_deadline!r}"
        )
    who: Any = Literal[tuple(approvers)] if approvers else str
    model = pydantic.create_model(
        "Approval",
        approved=(bool, ...),
        approver=(who | None, None),
        comment=(str, ""),
    )
    return ApprovalSpec(
        "wait",
        {"deadline": deadline, "on_deadline": on_deadline, "description": description},
        schema=model,
    )
