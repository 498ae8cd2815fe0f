"""Branches on a real worker process: the untaken path is skipped there, and a pass after a
wait on the taken path (a new pass, on the worker) follows the same decision."""

from __future__ import annotations

import os

import runtime as rt
from tests.distributed import branch_flows


def test_a_worker_takes_the_branch_and_keeps_to_it_after_a_wait(
    dist_client: rt.Client,
) -> None:
    run = dist_client.start(branch_flows.routed, {"amount": 500})
    assert run.wait(30).status == "waiting", run.error
    assert run.nodes["small"].status == "skipped"
    assert run.nodes["small"].error == "not taken: branch 'route' took big"
    assert run.nodes["approve"].status == "waiting"

    run.resume("approve", ok=True)
    assert run.wait(30).status == "succeeded", run.error
    done = run.output("done")
    assert done["small"] is None and done["approve"] == {"ok": True}
    assert done["pid"] != os.getpid() and done["big"] != os.getpid()  # ran on the worker
    assert run.nodes["route"].attempts == 1
    assert {n: i.status for n, i in run.nodes.items()} == {
        "route": "succeeded",
        "big": "succeeded",
        "small": "skipped",
        "approve": "succeeded",
        "done": "succeeded",
    }
    assert run.output("route") == "big"  # the decision is the branch's checkpointed output

    other = dist_client.start(branch_flows.routed, {"amount": 5}).wait(30)
    assert other.status == "succeeded", other.error  # the wait was on the untaken path
    assert other.nodes["approve"].status == "skipped"
    assert other.output("done")["big"] is None
