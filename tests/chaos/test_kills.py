"""Forty-odd SIGKILLs of worker children and whole worker groups at random moments, half of
them a few milliseconds after a checkpoint commit, while runs of very short and of slower
nodes go on: every run finishes with the outputs of an undisturbed run, no node executes
again after it succeeded, and no two attempts of a node overlap."""

from __future__ import annotations

import random
import time
from pathlib import Path

import psycopg
import pytest

from tests.chaos import flows, ledger
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.workers import children, cluster

KILLS = 44
IN_FLIGHT = 24


@pytest.fixture(autouse=True)
def _forget_default_client():
    yield
    from runtime import client as client_module

    client_module._default = None


def _next_commit(dsn: str, timeout: float = 5.0) -> bool:
    """Wait until a checkpoint commits a new attempt row (a chain's checkpoint starts the next
    node in the same transaction) after this call began; whether one did in time. Rows that
    landed earlier do not count: the kill that follows is to come within milliseconds of
    the commit."""
    deadline = time.monotonic() + timeout
    query = "SELECT coalesce(max(id), 0) FROM node_run"
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = conn.execute(query).fetchone()
        mark = before[0] if before is not None else 0
        while time.monotonic() < deadline:
            row = conn.execute(query).fetchone()
            if row is not None and row[0] > mark:
                return True
    return False


@pytest.mark.timeout(600)  # about 4 min on a quiet 2-core machine; restarts slow on a busy one
def test_forty_kills_lose_nothing_and_repeat_nothing(pg_url: str, tmp_path: Path) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    dsn = ledger.prepare(pg_url)
    rng = random.Random(20261201)
    with cluster(pg_url, REDIS_URL, tmp_path, lease_seconds=2.0) as c:
        groups = [c.start_worker(processes=2, concurrency=8) for _ in range(2)]
        client = c.connect()
        quick, steady = [], []

        def feed() -> None:
            active = [r for r in quick + steady if r.status not in ("succeeded", "failed")]
            for _ in range(IN_FLIGHT - len(active)):
                if rng.random() < 0.6:
                    quick.append(client.start(flows.quick, {"ledger": dsn}))
                else:
                    steady.append(client.start(flows.steady, {"ledger": dsn}))

        kills, near_commit = 0, 0
        while kills < KILLS:
            feed()
            time.sleep(rng.uniform(0.1, 0.6))
            if kills % 2 == 0:  # right after a checkpoint lands
                near_commit += _next_commit(dsn)  # counted only when one was seen landing
            if kills % 11 == 10:  # a whole worker group: its parent and children
                index = rng.randrange(len(groups))
                group = groups[index]
                ledger.kill(dsn, group.pid, group=True, members=children(group))
                group.wait(10)
                c.workers.remove(group)
                groups[index] = c.start_worker(processes=2, concurrency=8)
            else:
                alive = [pid for g in groups for pid in children(g)]
                if not alive:
                    continue  # children being restarted
                ledger.kill(dsn, rng.choice(alive))
            kills += 1

        # reported, not asserted: on a busy machine fewer commits land within the wait (the
        # issue asks for half; see right_after_commit in the figures)
        runs = quick + steady
        for run in runs:
            run.wait(180)
        report_quick = ledger.check(client, dsn, [r.id for r in quick], flows.QUICK_OUTPUTS)
        report_steady = ledger.check(client, dsn, [r.id for r in steady], flows.STEADY_OUTPUTS)
        ledger.emit(
            "SIGKILL worker children and groups",
            faults=kills,
            right_after_commit=near_commit,
            runs=len(runs),
            executions=report_quick.executions + report_steady.executions,
            re_executions=report_quick.re_executions + report_steady.re_executions,
        )
        client.close()
