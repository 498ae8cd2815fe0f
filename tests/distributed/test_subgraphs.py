"""A sub-graph on a real worker process: the child run executes there too, and the parent,
parked while the child runs, holds none of the worker's slots (one slot is enough)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtime as rt
from runtime import client as client_module
from runtime.nodes.subgraph import child_run_id
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.core import subgraph_flows
from tests.workers import cluster


@pytest.fixture
def one_slot_client(pg_url: str, tmp_path: Path) -> Iterator[rt.Client]:
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1, concurrency=1)
        client = c.connect()
        yield client
        client.close()
        client_module._default = None


def test_child_runs_on_the_worker_in_the_slot_the_parent_left(
    one_slot_client: rt.Client, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    run = one_slot_client.start(subgraph_flows.outer, {"n": 2, "ledger": str(ledger)})
    assert run.wait(60).status == "succeeded", run.error
    assert run.outputs == {"finish": 10}
    (child,) = run.children
    assert child.id == child_run_id(run.id, "inner") and child.status == "succeeded"
    assert child.outputs == {"squared": 9}
    ran = subgraph_flows.executions(ledger)
    assert {n: len(p) for n, p in ran.items()} == {"start": 1, "squared": 1, "finish": 1}
    assert os.getpid() not in {pid for pids in ran.values() for pid in pids}  # all on the worker
