"""One run spread across workers: a pass hands ready nodes beyond its own share to other
worker processes, each as its own message under an attempt lease (``runtime.spread``)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.store import INTERRUPTED
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.distributed import spread_flows as flows
from tests.workers import Cluster, children, cluster, wait_for


@pytest.fixture
def two(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Two worker process groups of one process each (so one can be killed alone)."""
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1)
        c.start_worker(processes=1)
        yield c


def test_one_runs_nodes_execute_in_both_worker_processes(two: Cluster) -> None:
    client = two.connect()
    try:
        run = client.start(flows.pids, {"n": 1, "pause": 0.3}).wait(60)
        assert run.status == "succeeded", run.error
        pids = {run.outputs[f"leaf_{i:02d}"] for i in range(flows.WIDTH)}
        workers = {pid for proc in two.workers for pid in children(proc)}
        assert pids == workers and len(workers) == 2
        # every leaf ran once: one attempt each, none handed out twice
        attempts = client.run_attempts(run.id)
        leaves = [a for a in attempts if a.node.startswith("leaf_")]
        assert len(leaves) == flows.WIDTH
        assert {a.status for a in leaves} == {"succeeded"}
    finally:
        client.close()


def test_killing_the_worker_of_handed_out_attempts_reruns_them_elsewhere(
    two: Cluster, tmp_path: Path
) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    client = two.connect()
    try:
        run = client.start(flows.counted, {"n": 1, "pause": 1.5, "counters": str(counters)})

        def lines(node: str) -> list[str]:
            log = counters / f"{node}.log"
            return log.read_text().split("\n")[:-1] if log.exists() else []

        def started_in() -> set[int]:
            return {
                int(line.split()[1])
                for i in range(flows.WIDTH)
                for line in lines(f"c_{i:02d}")
                if line.startswith("start")
            }

        wait_for(lambda: len(started_in()) == 2, message="nodes started in both workers")
        holder = int(client.store.get_run(run.id).lease_owner.split(":")[1])  # type: ignore[union-attr]
        victim = next(p for p in two.workers if holder not in children(p))
        (victim_pid,) = children(victim)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        try:
            run = run.wait(40)
        except TimeoutError:
            for a in client.run_attempts(run.id):
                print(a.node, a.attempt, a.status, a.owner, a.lease_until, a.error_type)
            for w in two.workers:
                print(w.log.read_text()[-3000:])
            raise
        assert run.status == "succeeded", run.error

        attempts = client.run_attempts(run.id)
        cut = [a for a in attempts if a.error_type == INTERRUPTED]
        assert cut, "the killed worker's attempts were interrupted"
        for i in range(flows.WIDTH):
            node = f"c_{i:02d}"
            done = [line for line in lines(node) if line.startswith("done")]
            # no attempt that ran to its end ran again: exactly one execution finished
            assert len(done) == 1, (node, lines(node))
            assert run.outputs[node] == int(done[0].split()[1])
        # what the dead worker was executing ran again, in the surviving one
        rerun = {a.node for a in cut}
        assert any(f"start {victim_pid}" in lines(node) for node in rerun)
        for node in rerun:
            assert run.outputs[node] != victim_pid
    finally:
        client.close()


@pytest.fixture
def coordinator(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """One worker process whose passes keep no node for themselves: every node is handed
    out (to itself, through the queue)."""
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1, env={"PLAIT_SPREAD_KEEP": "0"})
        yield c


def test_handed_out_attempts_keep_retries_documents_and_logs(
    coordinator: Cluster, tmp_path: Path
) -> None:
    counters = tmp_path / "flaky"
    counters.mkdir()
    client = coordinator.connect()
    try:
        run = client.start(flows.flaky, {"n": 1, "counters": str(counters)}).wait(60)
        assert run.status == "succeeded", run.error
        names = [f"f_{i:02d}" for i in range(12)]
        assert {run.outputs[n] for n in names} == set(names)
        rows = [a for a in client.run_attempts(run.id) if a.node in names]
        assert sorted((a.node, a.attempt, a.status) for a in rows) == sorted(
            [(n, 1, "failed") for n in names] + [(n, 2, "succeeded") for n in names]
        )
        first = [a for a in rows if a.attempt == 1]
        assert all(a.will_retry and a.error_type == "RuntimeError" for a in first)
        assert all("attempt 1 of" in (a.logs or "") for a in first)
        types = [e["type"] for e in run.events()]
        assert types.count("node.retrying") == 12 and types.count("node.succeeded") == 13
        documents = {d.node: d.value for d in client.run_documents(run.id)}
        assert documents == {n: {"node": n} for n in names}
        for n in names:  # each attempt executed exactly once
            assert [
                line.split()[0] for line in (counters / f"{n}.log").read_text().split("\n")[:-1]
            ] == ["1", "2"]
    finally:
        client.close()


def test_one_maps_elements_execute_in_both_worker_processes(two: Cluster) -> None:
    client = two.connect()
    try:
        run = client.start(flows.mapped, {"n": flows.WIDTH, "pause": 0.3}).wait(60)
        assert run.status == "succeeded", run.error
        pids = run.output("pids")
        workers = {pid for proc in two.workers for pid in children(proc)}
        assert set(pids) == workers and len(workers) == 2
        # one attempt per element, every one succeeded: none was executed twice
        rows = client.store.element_attempts(run.id, "pids")
        assert sorted(r.element for r in rows) == list(range(flows.WIDTH))
        assert {r.status for r in rows} == {"succeeded"}
        assert run.maps["pids"].text == f"{flows.WIDTH}/{flows.WIDTH}"
    finally:
        client.close()


def test_killing_the_worker_of_handed_out_elements_reruns_them_elsewhere(
    two: Cluster, tmp_path: Path
) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    client = two.connect()
    try:
        run = client.start(
            flows.counted_map, {"n": flows.WIDTH, "pause": 1.5, "counters": str(counters)}
        )

        def lines(index: int) -> list[str]:
            log = counters / f"e_{index:02d}.log"
            return log.read_text().split("\n")[:-1] if log.exists() else []

        def started_in() -> set[int]:
            return {
                int(line.split()[1])
                for i in range(flows.WIDTH)
                for line in lines(i)
                if line.startswith("start")
            }

        wait_for(lambda: len(started_in()) == 2, message="elements started in both workers")
        holder = int(client.store.get_run(run.id).lease_owner.split(":")[1])  # type: ignore[union-attr]
        victim = next(p for p in two.workers if holder not in children(p))
        (victim_pid,) = children(victim)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        try:
            run = run.wait(60)
        except TimeoutError:
            for r in client.store.element_attempts(run.id, "counted"):
                print(r.node, r.attempt, r.status, r.owner, r.lease_until, r.error_type)
            for w in two.workers:
                print(w.log.read_text()[-3000:])
            raise
        assert run.status == "succeeded", run.error
        results = run.output("counted")

        rows = client.store.element_attempts(run.id, "counted")
        cut = [r for r in rows if r.error_type == INTERRUPTED]
        assert cut, "the killed worker's elements were interrupted"
        for i in range(flows.WIDTH):
            done = [line for line in lines(i) if line.startswith("done")]
            # no element that ran to its end ran again: exactly one execution finished
            assert len(done) == 1, (i, lines(i))
            assert results[i] == int(done[0].split()[1])
        # what the dead worker was executing ran again, in the surviving one
        rerun = {r.element for r in cut}
        assert all(r is not None for r in rerun)
        assert any(f"start {victim_pid}" in lines(i) for i in rerun)  # type: ignore[arg-type]
        for i in rerun:
            assert results[i] != victim_pid  # type: ignore[index]
    finally:
        client.close()


@pytest.fixture
def coordinators(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Two worker processes whose passes keep no node: a map node is handed out like any,
    often to the process that does not hold its run."""
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=2, env={"PLAIT_SPREAD_KEEP": "0"})
        yield c


def test_a_map_node_handed_out_hands_its_elements_out_too(coordinators: Cluster) -> None:
    client = coordinators.connect()
    try:
        # a few runs, so that some map node runs in the process not holding its run
        runs = [client.start(flows.mapped, {"n": flows.WIDTH, "pause": 0.05}) for _ in range(4)]
        workers = {pid for proc in coordinators.workers for pid in children(proc)}
        for handle in runs:
            run = handle.wait(60)
            assert run.status == "succeeded", run.error
            assert set(run.output("pids")) <= workers
            # every element was claimed from the queue and ran once
            rows = client.store.element_attempts(run.id, "pids")
            assert len(rows) == flows.WIDTH and {r.status for r in rows} == {"succeeded"}
            assert not any((r.owner or "").endswith(":handed") for r in rows)
    finally:
        client.close()
