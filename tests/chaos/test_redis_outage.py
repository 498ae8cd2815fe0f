"""Redis goes away for 10 s and for 30 s (the private server is killed, then started again,
empty, on the same port) while passes are in flight and callers start more runs. The worker
children ride it out: none dies, no node is interrupted, every run succeeds with each node's
side effect exactly once (the ledger, ``ledger.py``), and the worker then stops cleanly on
SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from runtime import client as client_module
from runtime.redis_bus import RedisBus
from runtime.store.tables import EventDict
from tests.chaos import flows, ledger, outage_flows
from tests.conftest import _migrate, _truncate
from tests.faults.servers import PrivateRedis
from tests.workers import cluster, wait_for

SHUTDOWN_WAIT = 2.0
"""The cluster's ``plait worker --shutdown-wait``."""


@pytest.fixture(autouse=True)
def _forget_default_client():
    yield
    client_module._default = None


def children_of(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux: /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(child) for child in path.read_text().split()} if path.exists() else set()


def worker_children(log: str) -> set[int]:
    return {int(pid) for pid in re.findall(r"Started process worker-\d+ with pid (\d+)", log)}


def pending(r: redis.Redis, queue: str) -> int:
    """Messages of the queue's consumer group delivered and not acked yet."""
    summary: Any = r.xpending(queue, queue)
    return summary["pending"]


def log_of(worker: subprocess.Popen) -> str:
    """The worker's output (``Cluster.start_worker`` names its file)."""
    return worker.log.read_text()  # type: ignore[attr-defined]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    "outage",
    # about 25 s and 45 s on a quiet machine; the timeouts leave room for a loaded one
    [
        pytest.param(10.0, marks=pytest.mark.timeout(60), id="10s"),
        pytest.param(30.0, marks=pytest.mark.timeout(90), id="30s"),
    ],
)
def test_workers_ride_out_a_redis_outage(
    outage: float, pg_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    dsn = ledger.prepare(pg_url)
    with cluster(pg_url, private_redis.url, tmp_path, lease_seconds=3.0) as c:
        worker = c.start_worker(processes=2, concurrency=4)
        children = worker_children(log_of(worker))
        assert len(children) == 2 and children <= children_of(worker.pid)
        client = c.connect()
        gates = [tmp_path / f"gate-{i}" for i in range(4)]
        held = [
            client.start(outage_flows.held, {"ledger": dsn, "gate": str(gate)}) for gate in gates
        ]
        for gate in gates:
            wait_for(Path(f"{gate}.started").exists, message=f"{gate.name}'s node started")

        private_redis.kill()
        down_at = time.monotonic()
        # callers go on: a run is stored (queued) without an error, and waiting works
        during = [client.start(flows.steady, {"ledger": dsn, "pause": 0.0}) for _ in range(4)]
        assert [run.status for run in during] == ["queued"] * 4
        # half the passes in flight finish while Redis is away, checkpointing in PostgreSQL
        for gate in gates[:2]:
            gate.touch()
        for run in held[:2]:
            assert run.wait(outage).status == "succeeded", run.error
        assert time.monotonic() - down_at < outage
        time.sleep(outage - (time.monotonic() - down_at))  # the outage itself
        private_redis.start()
        for gate in gates[2:]:  # the other half was in flight the whole time
            gate.touch()

        for run in [*held, *during]:
            assert run.wait(30).status == "succeeded", run.error
        kept = ledger.check(client, dsn, [r.id for r in held], outage_flows.HELD_OUTPUTS)
        came = ledger.check(client, dsn, [r.id for r in during], flows.STEADY_OUTPUTS)
        assert (kept.executions, came.executions) == (4 * 3, 4 * 3)
        assert kept.re_executions == came.re_executions == 0  # each node once, first attempt
        events = [e["type"] for run in [*held, *during] for e in client.store.events(run.id)]
        assert "node.interrupted" not in events
        ledger.emit(
            f"Redis down {outage:g} s",
            faults=1,
            runs=len(held) + len(during),
            executions=kept.executions + came.executions,
            re_executions=0,
        )

        log = log_of(worker)
        assert worker.poll() is None
        assert children <= children_of(worker.pid), log
        assert "is dead" not in log and "restarted with pid" not in log, log

        worker.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert worker.wait(SHUTDOWN_WAIT + 5) == 0
        stopped_in = time.monotonic() - stopping
        log = log_of(worker)
        assert "Traceback" not in log, log
        assert not any(alive(pid) for pid in children)
        # bounded by the wait above; the exact figure varies with the machine's load
        print(f"stopped {stopped_in:.1f} s after SIGTERM (--shutdown-wait {SHUTDOWN_WAIT})")
        client.close()


@pytest.mark.timeout(60)
def test_a_worker_started_while_redis_is_away_serves_once_it_is_back(
    pg_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    dsn = ledger.prepare(pg_url)
    with cluster(pg_url, private_redis.url, tmp_path, lease_seconds=3.0) as c:
        private_redis.kill()
        worker = c.start_worker(processes=1)  # starts listening: it does not crash-loop
        client = c.connect()  # so does a caller
        run = client.start(flows.steady, {"ledger": dsn, "pause": 0.0})
        assert run.status == "queued"

        private_redis.start()
        assert run.wait(30).status == "succeeded", run.error
        report = ledger.check(client, dsn, [run.id], flows.STEADY_OUTPUTS)
        assert (report.executions, report.re_executions) == (3, 0)
        log = log_of(worker)
        assert "is dead" not in log and "Traceback" not in log, log
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(SHUTDOWN_WAIT + 5) == 0
        client.close()


@pytest.mark.timeout(60)
def test_acks_that_failed_in_an_outage_are_sent_when_redis_returns(
    pg_url: str, tmp_path: Path
) -> None:
    """Redis stopped with its data saved (a maintenance restart): the message of a pass that
    finished meanwhile is still pending when Redis returns, and the worker acks it then
    instead of leaving it to be redelivered half an hour later."""
    _migrate(pg_url)
    _truncate(pg_url)
    dsn, gate = ledger.prepare(pg_url), tmp_path / "gate"
    (tmp_path / "redis").mkdir()
    server = PrivateRedis(data_dir=tmp_path / "redis")
    server.start()
    try:
        with cluster(pg_url, server.url, tmp_path, lease_seconds=3.0) as c:
            worker = c.start_worker(processes=1)
            client = c.connect()
            run = client.start(outage_flows.held, {"ledger": dsn, "gate": str(gate)})
            wait_for(Path(f"{gate}.started").exists, message="the held node started")

            server.shutdown()  # the stream, its group and the pending message are saved
            gate.touch()
            assert run.wait(20).status == "succeeded", run.error
            server.start()

            stream = redis.Redis(port=server.port)
            wait_for(lambda: pending(stream, c.queue) == 0, timeout=20, message="the message acked")
            stream.close()
            report = ledger.check(client, dsn, [run.id], outage_flows.HELD_OUTPUTS)
            assert (report.executions, report.re_executions) == (3, 0)
            log = log_of(worker)
            assert "could not ack message" in log and "is dead" not in log, log
            client.close()
    finally:
        server.stop()


@pytest.mark.timeout(30)
def test_event_bus_subscriptions_survive_an_outage(private_redis: PrivateRedis) -> None:
    """Subscribing and publishing while Redis is away neither raise nor block; once it is
    back, subscriptions made before and during the outage hear events again."""
    bus = RedisBus(private_redis.url)
    heard: dict[str, list[int]] = {"before": [], "during": []}
    bus.subscribe("r-before", lambda batch: heard["before"].extend(e["seq"] for e in batch))
    try:

        def first_heard() -> bool:
            bus.publish("r-before", [event(1)])
            return bool(heard["before"])

        wait_for(first_heard, message="the first subscription live")
        private_redis.kill()
        bus.publish("r-before", [event(2)])  # lost, not raised
        bus.subscribe("r-during", lambda batch: heard["during"].extend(e["seq"] for e in batch))
        private_redis.start()

        def both_hear() -> bool:
            bus.publish("r-before", [event(3)])
            bus.publish("r-during", [event(3)])
            return 3 in heard["before"] and 3 in heard["during"]

        wait_for(both_hear, timeout=15, message="both subscriptions restored")
    finally:
        bus.close()


def event(seq: int) -> EventDict:
    return {"run_id": "r", "seq": seq, "type": "node.succeeded", "node": "n", "data": {}, "at": 0}
