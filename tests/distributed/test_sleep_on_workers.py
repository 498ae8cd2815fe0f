"""A durable sleep on a worker: the run parks ``sleeping`` holding no lease, and the worker's
reaper queues it when due; a wait's timeout likewise."""

from __future__ import annotations

import os

import runtime as rt
from tests.distributed import flows
from tests.workers import wait_for


def test_a_worker_run_sleeps_without_a_lease_and_its_reaper_wakes_it(
    dist_client: rt.Client,
) -> None:
    run = dist_client.start(flows.napper, {})
    wait_for(lambda: run.status == "sleeping", message="the run sleeping")
    record = run.record
    assert record.lease_owner is None and record.wake_at is not None
    assert run.nodes["nap"].status == "sleeping"
    # wait() sleeps through the sleep and returns at the wait (settled: it needs a person)
    assert run.wait(60).status == "waiting", run.error
    assert run.record.wake_at is not None  # ... until its timeout
    wait_for(lambda: run.status == "succeeded", message="the wait timed out")
    outputs = run.output("after")
    assert outputs["before"] != os.getpid() and outputs["after"] != os.getpid()
    # the wait's timeout came next, also woken by the reaper: its default answer
    assert run.output("confirm") == {"ok": False}
    assert run.nodes["confirm"].status == "succeeded"
    statuses = [e["data"].get("status") for e in run.events() if e["type"].startswith("run.")]
    assert "sleeping" in statuses and "waiting" in statuses
