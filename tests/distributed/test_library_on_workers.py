"""Library nodes on a real worker process: the graph is published (its specs' kinds,
options and targets shipped with it), executed there, parked for an approval and resumed."""

from __future__ import annotations

import os

import runtime as rt
from tests.core.test_http_node import Server
from tests.distributed import library_flows


def test_a_worker_runs_library_nodes(dist_client: rt.Client) -> None:
    server = Server()
    try:
        run = dist_client.start(library_flows.library, {"base": server.base})
        assert run.wait(60).status == "waiting", run.error
        assert run.nodes["few"].status == "skipped"
        assert run.output("many") == "many: 3"
        run.resume("review", approved=True, approver="ada")
        assert run.wait(60).status == "succeeded", run.error
    finally:
        server.stop()
    assert run.output("answer") == "forty-two"
    assert run.output("pid") != os.getpid()  # executed by the worker
    assert {n["name"]: n["kind"] for n in run.spec["nodes"]}["fetch"] == "http"
    assert run.token_usage["nodes"]["answer"]["calls"][0]["reported"] is False


def test_a_worker_runs_code_nodes_in_its_sandbox_and_a_runaway_fails_only_its_node(
    dist_client: rt.Client,
) -> None:
    run = dist_client.start(library_flows.code, {"n": 21}).wait(120)
    assert run.status == "failed"
    assert run.output("clean") == {"double": 42, "plait_env": []}  # none of the worker's env
    assert run.output("worker_pid") != os.getpid()
    assert run.nodes["spin"].status == "failed"
    assert "code node 'spin': timed out after 2 s (killed)" in (run.nodes["spin"].error or "")
    assert run.nodes["bomb"].status == "failed"
    assert "MemoryError" in (run.nodes["bomb"].error or "")

    # the worker that killed them goes on serving runs
    again = dist_client.start(library_flows.code, {"n": 1}).wait(120)
    assert again.output("clean")["double"] == 2
