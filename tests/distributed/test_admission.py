"""Admission on real worker processes: a workflow's ``max_concurrent_runs`` holds across two
worker processes, and queued runs start highest priority first."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime import client as client_module
from runtime.store import tables
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.distributed import flows
from tests.workers import Cluster, cluster


@pytest.fixture
def two_workers(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1, concurrency=8)
        c.start_worker(processes=1, concurrency=8)
        yield c


def test_limit_holds_on_two_workers_and_runs_start_by_priority(
    two_workers: Cluster, tmp_path: Path
) -> None:
    client = two_workers.connect()
    try:
        client.publish(flows.limited)
        client.set_run_limit("dist_limited", 3)
        gate = tmp_path / "gate"
        blockers = [client.start(flows.limited, {"gate": str(gate), "label": -1}) for _ in range(3)]
        engine = sa.create_engine(two_workers.database_url)
        r = tables.run

        def running() -> int:
            with engine.connect() as conn:
                return conn.execute(
                    sa.select(sa.func.count()).where(r.c.status.in_(["running", "waiting"]))
                ).scalar_one()

        deadline = time.monotonic() + 30
        while running() < 3:
            assert time.monotonic() < deadline, "the three first runs never started"
            time.sleep(0.02)
        rng = random.Random(7)
        priorities = [rng.randint(0, 9) for _ in range(47)]
        queued = [
            client.start(flows.limited, {"gate": str(gate), "label": i}, priority=p)
            for i, p in enumerate(priorities)
        ]
        samples: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(running())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            assert running() == 3  # the others wait queued
            gate.touch()
            for run in [*blockers, *queued]:
                assert run.wait(120).status == "succeeded"
        finally:
            done.set()
            sampler.join()
        assert max(samples) <= 3 and max(samples) == 3
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(r.c.id, r.c.priority, r.c.started_at, r.c.created_at)
                .where(r.c.id.in_([q.id for q in queued]))
                .order_by(r.c.started_at)
            ).all()
        started = [(-row.priority, row.created_at) for row in rows]
        ranked = sorted(started)
        # slots freed together admit their runs together, which then start in any order
        # among themselves: no run starts ahead of one ranked more than the limit before it
        assert all(abs(ranked.index(s) - i) < 3 for i, s in enumerate(started)), started
        assert started[-1][0] == ranked[-1][0] and started[0][0] == ranked[0][0]
        engine.dispose()
    finally:
        client.close()
        client_module._default = None
