"""Duplicate deliveries, a slow takeover of a frozen worker, PostgreSQL down for longer than
the lease, an event loop blocked for longer than the lease, and a node that kills its worker:
each checked against the side-effect ledger."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtime as rt
from runtime import client as client_module
from tests.chaos import flows, ledger
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.faults.servers import PrivatePostgres
from tests.workers import children, cluster, wait_for


@pytest.fixture(autouse=True)
def _forget_default_client() -> Iterator[None]:
    yield
    client_module._default = None


@pytest.fixture
def fresh(pg_url: str, tmp_path: Path) -> tuple[str, str]:
    _migrate(pg_url)
    _truncate(pg_url)
    return pg_url, ledger.prepare(pg_url)


def interruptions(client: rt.Client, run_ids: list[str]) -> int:
    return sum(
        1
        for run_id in run_ids
        for e in client.get_run(run_id).events()
        if e["type"] == "node.interrupted"
    )


def test_duplicate_deliveries_to_the_owner_and_to_others_are_no_ops(
    fresh: tuple[str, str], tmp_path: Path
) -> None:
    url, dsn = fresh
    with cluster(url, REDIS_URL, tmp_path, lease_seconds=2.0) as c:
        c.start_worker(processes=2, concurrency=8)
        client = c.connect()
        runs = [client.start(flows.steady, {"ledger": dsn, "pause": 0.3}) for _ in range(8)]
        wait_for(lambda: all(r.status == "running" for r in runs), message="runs started")
        for _ in range(4):  # each lands on the process advancing the run, or the other one
            for run in runs:
                client.dispatcher.submit(run.id)
        for run in runs:
            run.wait(60)
        report = ledger.check(client, dsn, [r.id for r in runs], flows.STEADY_OUTPUTS)
        assert report.re_executions == 0, report
        assert interruptions(client, [r.id for r in runs]) == 0
        ledger.emit(
            "duplicate deliveries", faults=32, runs=8, executions=report.executions, re_executions=0
        )
        client.close()


def test_a_slow_takeover_of_a_frozen_worker_never_reruns_a_success(
    fresh: tuple[str, str], tmp_path: Path
) -> None:
    """A worker freezes (SIGSTOP: a VM paused, a long GC) after its node's code returned and
    before its checkpoint; another worker takes the run over, slowly (paused 0.8 s after
    acquiring); the frozen one thaws meanwhile and tries to commit. The fence refuses it."""
    url, dsn = fresh
    with cluster(url, REDIS_URL, tmp_path, lease_seconds=1.5) as c:
        frozen = c.start_worker(processes=1, env={"PLAIT_FAULT_PAUSE": "executed:4"})
        client = c.connect()
        run = client.start(flows.steady, {"ledger": dsn, "pause": 0.0})
        log = frozen.log  # type: ignore[attr-defined]
        wait_for(lambda: "holding at executed" in log.read_text(), message="pass paused")
        (child,) = children(frozen)
        os.kill(child, signal.SIGSTOP)
        c.start_worker(processes=1, env={"PLAIT_FAULT_PAUSE": "acquired:0.8"})
        wait_for(
            lambda: client.store.get_run(run.id).lease_epoch >= 2, timeout=30, message="takeover"
        )
        os.kill(child, signal.SIGCONT)
        assert run.wait(60).status == "succeeded", run.error
        wait_for(lambda: "lease lost" in log.read_text(), message="the thawed pass was fenced")
        report = ledger.check(client, dsn, [run.id], flows.STEADY_OUTPUTS)
        first = client.store.node_attempts(run.id, "s_one")
        assert [(a.attempt, a.status) for a in first] == [(1, "failed"), (2, "succeeded")]
        ledger.emit(
            "frozen worker, slow takeover",
            faults=1,
            runs=1,
            executions=report.executions,
            re_executions=report.re_executions,
        )
        client.close()


def test_postgres_down_longer_than_the_lease_moves_nothing(
    private_postgres: PrivatePostgres, pg_url: str, tmp_path: Path
) -> None:
    url = private_postgres.url  # the store; the ledger stays on the shared server
    with cluster(url, REDIS_URL, tmp_path, lease_seconds=2.0) as c:
        c.connect().close()  # migrate
        dsn = ledger.prepare(pg_url)
        c.start_worker(processes=2, concurrency=8)
        client = c.connect()
        runs = [client.start(flows.steady, {"ledger": dsn, "pause": 0.5}) for _ in range(6)]
        wait_for(lambda: all(r.status == "running" for r in runs), message="runs started")
        private_postgres.stop("fast")
        time.sleep(6)  # the outage itself, three lease periods
        private_postgres.start()
        for run in runs:
            run.wait(90)
        report = ledger.check(client, dsn, [r.id for r in runs], flows.STEADY_OUTPUTS)
        assert interruptions(client, [r.id for r in runs]) == 0  # nobody took anything over
        ledger.emit(
            "PostgreSQL down 6 s (lease 2 s)",
            faults=1,
            runs=6,
            executions=report.executions,
            re_executions=report.re_executions,
        )
        client.close()


def test_an_event_loop_blocked_longer_than_the_lease_is_not_taken_over(
    fresh: tuple[str, str], tmp_path: Path
) -> None:
    url, dsn = fresh
    with cluster(url, REDIS_URL, tmp_path, lease_seconds=1.0) as c:
        c.start_worker(processes=2)
        client = c.connect()
        hogs = [client.start(flows.hog, {"ledger": dsn, "seconds": 4.0}) for _ in range(2)]
        others = [client.start(flows.steady, {"ledger": dsn}) for _ in range(4)]
        for run in [*hogs, *others]:
            run.wait(60)
        assert interruptions(client, [r.id for r in [*hogs, *others]]) == 0
        hogged = ledger.check(client, dsn, [r.id for r in hogs], flows.HOG_OUTPUTS)
        rest = ledger.check(client, dsn, [r.id for r in others], flows.STEADY_OUTPUTS)
        ledger.emit(
            "event loop blocked 4 s (lease 1 s)",
            faults=2,
            runs=6,
            executions=hogged.executions + rest.executions,
            re_executions=hogged.re_executions + rest.re_executions,
        )
        client.close()


def test_a_node_that_kills_its_worker_fails_after_three_interruptions(
    fresh: tuple[str, str], tmp_path: Path
) -> None:
    """Thread isolation: the first attempt takes its worker process (and what else ran
    there) down; from then on the node runs in a child process, whose death is put down to it
    alone; after max_interruptions it fails for good and everything else finishes."""
    url, dsn = fresh
    with cluster(url, REDIS_URL, tmp_path, lease_seconds=2.0) as c:
        c.start_worker(processes=2, concurrency=4)
        client = c.connect()
        bad = client.start(flows.poison, {"ledger": dsn})
        good = [client.start(flows.steady, {"ledger": dsn}) for _ in range(6)]
        assert bad.wait(120).status == "failed"
        node = bad.nodes["p_exit"]
        assert node.attempts == 3
        assert node.error == "interrupted 3 times: process exited with code 3"
        for run in good:
            run.wait(60)
        report = ledger.check(client, dsn, [r.id for r in good], flows.STEADY_OUTPUTS)
        ledger.emit(
            "node calling os._exit (thread isolation)",
            faults=3,
            runs=7,
            executions=report.executions,
            re_executions=report.re_executions,
        )
        client.close()
