"""Faults: a killed worker, a restarted Redis, an unreachable PostgreSQL, a burst of runs.
Every test proves from side effects that no succeeded node ran twice."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from runtime import client as client_module
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.faults import flows
from tests.faults.servers import PrivatePostgres, PrivateRedis
from tests.workers import cluster, wait_for


def effects_of(path: Path) -> Counter:
    return Counter(path.read_text().split()) if path.exists() else Counter()


@pytest.fixture(autouse=True)
def _forget_default_client():
    yield
    client_module._default = None


def test_killed_worker_run_continues_elsewhere(pg_url: str, tmp_path: Path) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    effects, gate = tmp_path / "effects", tmp_path / "gate"
    with cluster(pg_url, REDIS_URL, tmp_path, lease_seconds=2.0) as c:
        c.start_worker(processes=2)
        client = c.connect()
        run = client.start(flows.chain, {"effects": str(effects), "gate": str(gate)})
        pid_file = Path(str(gate) + ".pid")
        wait_for(pid_file.exists, message="middle node started")
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the worker child running it

        run.wait(60)
        assert run.status == "succeeded", run.error
        assert run.outputs == {"last": 20}
        counts = effects_of(effects)
        assert counts == Counter(
            {
                f"{run.id}:first:1": 1,
                f"{run.id}:middle:1": 1,
                f"{run.id}:middle:2": 1,
                f"{run.id}:last:1": 1,
            }
        )
        assert run.nodes["middle"].attempts == 2
        client.close()


def test_two_hundred_runs_on_two_workers_finish_exactly_once(pg_url: str, tmp_path: Path) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    effects = tmp_path / "effects"
    with cluster(pg_url, REDIS_URL, tmp_path, lease_seconds=10.0) as c:
        c.start_worker(processes=2, concurrency=20)
        client = c.connect()
        runs = [client.start(flows.light, {"effects": str(effects)}) for _ in range(200)]
        for run in runs:
            run.wait(120)
        assert {r.status for r in runs} == {"succeeded"}
        assert all(r.outputs == {"three": 3} for r in runs)
        counts = effects_of(effects)
        assert sum(counts.values()) == 200 * 3
        assert set(counts.values()) == {1}
        assert {key.split(":")[1] for key in counts} == {"one", "two", "three"}
        client.close()


def test_redis_restart_loses_no_work(
    pg_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    effects, gate = tmp_path / "effects", tmp_path / "gate"
    with cluster(pg_url, private_redis.url, tmp_path, lease_seconds=2.0) as c:
        c.start_worker(processes=1, concurrency=1)
        client = c.connect()
        held = client.start(flows.chain, {"effects": str(effects), "gate": str(gate)})
        wait_for(Path(str(gate) + ".pid").exists, message="middle node started")
        queued = [client.start(flows.light, {"effects": str(effects)}) for _ in range(3)]

        private_redis.kill()  # the queued messages die with it
        private_redis.start()
        gate.touch()

        for run in [held, *queued]:
            run.wait(90)
            assert run.status == "succeeded", run.error
        counts = effects_of(effects)
        assert set(counts.values()) == {1}
        assert sum(1 for k in counts if k.startswith(held.id)) == 3
        for run in queued:
            assert sum(1 for k in counts if k.startswith(run.id)) == 3
        client.close()


def test_postgres_outage_is_ridden_out(private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    effects, gate = tmp_path / "effects", tmp_path / "gate"
    with cluster(private_postgres.url, REDIS_URL, tmp_path, lease_seconds=15.0) as c:
        c.connect().close()  # migrate
        c.start_worker(processes=1)
        client = c.connect()
        run = client.start(flows.chain, {"effects": str(effects), "gate": str(gate)})
        wait_for(Path(str(gate) + ".pid").exists, message="middle node started")

        private_postgres.stop("fast")
        gate.touch()  # middle finishes while its checkpoint cannot be written
        time.sleep(3)  # the outage itself, not a synchronisation
        private_postgres.start()

        run.wait(60)
        assert run.status == "succeeded", run.error
        assert run.outputs == {"last": 20}
        assert effects_of(effects) == Counter(
            {f"{run.id}:first:1": 1, f"{run.id}:middle:1": 1, f"{run.id}:last:1": 1}
        )
        for info in run.nodes.values():  # no half-written checkpoint: status and output
            assert info.status == "succeeded"
            run.output(info.name)
        client.close()
