"""``graph``: a sub-graph. The node runs another graph (or a published workflow version) as a
child run of its own, linked to its parent run; the node's output is the child run's outputs
dict.

The node executes no code in the parent: its attempt row waits (``waiting``, the run
``in_subgraph`` when nothing else can go on) while the child runs, holding no worker, and
the child's end completes it in the transaction that finishes the child
(``Store.finish_run``), then queues the parent again. The child's id is derived from the
parent run's id and the node's name (``child_run_id``), so a resume finds the child it
started and never starts a second one; a retry of the node (its ``retries``, or a retry of
the parent run) retries that same child, keeping the child's succeeded nodes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pydantic

from runtime.errors import GraphError
from runtime.nodes.kind import NodeKind

if TYPE_CHECKING:
    from runtime.graph import Graph
    from runtime.nodes.node import Node

CHILD_TRIGGER = "subgraph"
"""``Run.trigger`` of a child run."""
CHILD_FAILED = "ChildRunFailed"
"""``error_type`` of a sub-graph node whose child run failed."""
CHILD_CANCELLED = "ChildRunCancelled"
"""``error_type`` of a sub-graph node whose child run was cancelled."""


@dataclass
class Subgraph:
    """What a sub-graph node runs: a graph object (published with its parent), or a version
    of a workflow published before (``"name@version"``)."""

    workflow: str
    """The child workflow's name."""
    graph: Graph | None = None
    """The graph itself; ``None`` for a published version named by ``version``."""
    pinned: str | None = None
    """The published version, when given by name (a graph's version is its own)."""
    run_inputs: dict[str, bool] = field(default_factory=dict)
    """The child's run inputs -> whether each is required."""

    @property
    def version(self) -> str:
        if self.graph is not None:
            return self.graph.version  # computed afresh, as a graph's own version is
        assert self.pinned is not None
        return self.pinned


class SubgraphOptions(pydantic.BaseModel):
    """A sub-graph node added by kind (a draft's, a rebuilt spec's): the published workflow
    it runs. The node is then the one ``g.add(name, "workflow@version")`` adds: its spec
    holds the workflow and the version under ``subgraph``, not these options."""

    model_config = pydantic.ConfigDict(extra="forbid")

    workflow: str = pydantic.Field(min_length=1, description="The published workflow it runs.")
    version: str | None = pydantic.Field(
        default=None,
        description="Its version (a hash or a unique prefix); empty: its current one, pinned "
        "when the graph is built.",
    )


def child_run_id(parent_run_id: str, node: str) -> str:
    """The id of the child run a sub-graph node of a run starts: the same on every attempt
    and every resume, so a second child is never started."""
    return hashlib.sha256(f"{parent_run_id}/{node}".encode()).hexdigest()[:32]


class SubgraphKind(NodeKind):
    name = "graph"
    parks = "in_subgraph"
    options = SubgraphOptions

    def prepare(self, node: Node) -> None:
        # added by kind: resolved now, as ``g.add`` resolves "workflow@version"; the options
        # go (the spec's ``subgraph`` entry says it all), so both make the same version
        from runtime.graph import published_subgraph, subgraph_inputs

        opts = SubgraphOptions.model_validate(node.options or {})
        ref, defaults = published_subgraph(node.name, opts.workflow, opts.version or None)
        node.inputs = subgraph_inputs(node.name, ref, node.inputs)
        node.target = ref  # type: ignore[assignment]
        node.defaults = defaults
        node.options = None

    def check(self, node: Node) -> None:
        if node.timeout is not None:
            raise GraphError(
                f"node {node.name!r}: a sub-graph node takes no timeout (its child run's "
                "nodes take their own; cancel the child run to stop it)"
            )

    def fingerprint(self, node: Node) -> str:
        target: Subgraph = node.target  # type: ignore[assignment]
        return f"{target.workflow}@{target.version}"

    def park_data(self, node: Node, run_id: str) -> dict[str, Any]:
        return {"child_run": child_run_id(run_id, node.name)}

    def describe(self, node: Node) -> dict[str, Any]:
        target: Subgraph = node.target  # type: ignore[assignment]
        return {"subgraph": {"workflow": target.workflow, "version": target.version}}


def child_progress(client: Any, child_id: str) -> str:
    """One line on a child run for the views: its workflow, status and nodes done
    (``child run 1a2b3c4d5e6f (enrich_graph): running · 2/5 nodes done``). ``client``: a
    ``Client`` or ``RemoteClient`` (what a ``Run`` handle holds)."""
    return child_summary(client, child_id)[0]


def child_summary(client: Any, child_id: str) -> tuple[str, list[tuple[str, str]]]:
    """``child_progress``'s line and the child's nodes with their status labels, in order
    (what a view shows when the sub-graph node is expanded)."""
    from runtime.client import Run
    from runtime.statuses import NODE_DONE, label

    child = Run(client, child_id)
    try:
        nodes = child.nodes
        status, workflow = child.status, child.workflow
    except Exception:  # not stored yet (the node just started), or purged since
        return f"child run {child_id[:12]}: not started yet", []
    done = sum(1 for n in nodes.values() if n.status in NODE_DONE)
    line = (
        f"child run {child_id[:12]} ({workflow}): {label(status)} · {done}/{len(nodes)} nodes done"
    )
    return line, [(n.name, n.label) for n in nodes.values()]


def parent_line(record: Any) -> str | None:
    """``child of run 1a2b3c4d5e6f (node enrich)`` for a child run's record, else ``None``."""
    if record.parent_run_id is None:
        return None
    return f"child of run {record.parent_run_id[:12]} (node {record.parent_node})"
