"""A kit for testing workflows: ``rt.testing.run(g, inputs, answers=..., fakes=...,
clock=...)`` runs a graph in this process on a throwaway store, answers its waits from
scripted answers, replaces named nodes, and keeps time on a clock the test steps.

    result = rt.testing.run(g, {"topic": "owls"}, answers={"approve": {"ok": True}})
    result.assert_succeeded()
    assert result.output("publish") == "..."

The pytest plugin (``runtime.testing.plugin``, loaded by the ``pytest11`` entry point) gives
a ``plait`` fixture: a ``Kit`` removed after each test.
"""

from runtime.testing.clock import Clock
from runtime.testing.harness import NO_ANSWER, Kit, RunStuck, UnexpectedWait, run
from runtime.testing.result import Result

__all__ = ["NO_ANSWER", "Clock", "Kit", "Result", "RunStuck", "UnexpectedWait", "run"]
