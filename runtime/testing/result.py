"""What a test run did, read in assertions: ``result.assert_succeeded()``,
``result.ran("x")``, ``result.output("z")``, ``result.attempts("w")``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.statuses import NODE_DONE, NODE_NOT_RUN

if TYPE_CHECKING:
    from runtime.client import NodeInfo, Run
    from runtime.testing.clock import Clock


class Result:
    """A test run, read live from its store: after ``clock.advance`` it shows what the run
    did since."""

    def __init__(self, run: Run, clock: Clock) -> None:
        self.run = run
        self.clock = clock

    def __repr__(self) -> str:
        return f"<plait.testing.Result run {self.run.id} {self.status}>"

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def error(self) -> str | None:
        return self.run.error

    @property
    def outputs(self) -> dict[str, Any]:
        return self.run.outputs

    @property
    def nodes(self) -> dict[str, NodeInfo]:
        return self.run.nodes

    def node(self, name: str) -> NodeInfo:
        """One node's latest attempt; an unknown name is an error listing the nodes."""
        nodes = self.run.nodes
        if name not in nodes:
            raise KeyError(f"run {self.run.id} has no node {name!r} (nodes: {', '.join(nodes)})")
        return nodes[name]

    def assert_succeeded(self) -> Result:
        """Raise ``AssertionError`` saying why unless the run succeeded: the run's error and
        each failed node's error and traceback."""
        status = self.status
        if status == "succeeded":
            return self
        lines = [f"run {self.run.id} of {self.run.workflow!r} is {status}, not succeeded"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for info in self.nodes.values():
            if info.status not in NODE_DONE and info.attempts:  # what kept it from success
                lines.append(f"  node {info.name!r}: {info.label} after {info.attempts} attempt(s)")
                if info.error:
                    lines.append(f"    {info.error_type}: {info.error}")
                if info.traceback:
                    lines += ["    " + line for line in info.traceback.rstrip().splitlines()]
        raise AssertionError("\n".join(lines))

    def ran(self, name: str) -> bool:
        """Whether the node's code started (at least one attempt, not skipped)."""
        info = self.node(name)
        return info.attempts > 0 and info.status not in NODE_NOT_RUN

    def skipped(self, name: str) -> bool:
        """Whether the node was skipped (an untaken branch, or behind a failure)."""
        return self.node(name).status == "skipped"

    def attempts(self, name: str) -> int:
        """How many attempts the node made (0: never started)."""
        return self.node(name).attempts

    def output(self, name: str) -> Any:
        """The node's value; ``AssertionError`` naming its status and error when it has none
        because it did not succeed."""
        info = self.node(name)
        if info.status != "succeeded":
            detail = f": {info.error_type}: {info.error}" if info.error else ""
            raise AssertionError(f"node {name!r} has no output: it is {info.label}{detail}")
        return self.run.output(name)
