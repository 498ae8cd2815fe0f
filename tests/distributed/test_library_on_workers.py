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
