"""On workers: a node over its timeout keeps its side effects going in a thread (and its
retry waits for it) but is killed in a child process (and its side effects stop); a node
that kills its child process fails with the exit code while its worker lives on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runtime import client as client_module
from tests.chaos import flows, ledger
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.workers import children, cluster


@pytest.fixture(autouse=True)
def _forget_default_client() -> Iterator[None]:
    yield
    client_module._default = None


def ticks(dsn: str, run_id: str, attempt: int) -> list[dt.datetime]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT ended_at FROM chaos_effect WHERE run_id = %s AND node = '~tick' "
            "AND attempt = %s ORDER BY id",
            (run_id, attempt),
        ).fetchall()
    return [r[0] for r in rows]


def test_overtime_in_a_thread_and_in_a_child(pg_url: str, tmp_path: Path) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    dsn = ledger.prepare(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path, lease_seconds=2.0) as c:
        c.start_worker(processes=1)
        client = c.connect()
        threaded = client.start(flows.overtime, {"ledger": dsn, "ticks": 100}).wait(60)
        isolated = client.start(flows.overtime_isolated, {"ledger": dsn, "ticks": 100}).wait(60)
        for run in (threaded, isolated):
            assert run.status == "succeeded", run.error
        # the thread's retry waited for the thread: no overlap
        ledger.check(client, dsn, [threaded.id], flows.OVERTIME_OUTPUTS)

        thread_first = client.store.node_attempts(threaded.id, "o_tick")[0]
        assert thread_first.error_type == "TimeoutError"
        assert len(ticks(dsn, threaded.id, 1)) == 100  # a thread cannot be stopped
        assert max(ticks(dsn, threaded.id, 1)) > thread_first.ended_at

        child_first = client.store.node_attempts(isolated.id, "o_tick")[0]
        assert child_first.error_type == "TimeoutError"
        cut = ticks(dsn, isolated.id, 1)
        assert len(cut) < 100  # killed at its timeout: the side effects stopped
        assert max(cut) < child_first.ended_at + dt.timedelta(milliseconds=200)
        retry = client.store.node_attempts(isolated.id, "o_tick")[1]
        assert max(cut) < retry.started_at  # and before the retry began
        assert isolated.outputs == flows.OVERTIME_OUTPUTS
        client.close()


def test_a_node_that_kills_its_child_leaves_the_worker_alive(pg_url: str, tmp_path: Path) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    dsn = ledger.prepare(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path, lease_seconds=2.0) as c:
        group = c.start_worker(processes=1)
        before = children(group)
        client = c.connect()
        bad = client.start(flows.poison_isolated, {"ledger": dsn})
        good = [client.start(flows.steady, {"ledger": dsn}) for _ in range(4)]
        assert bad.wait(60).status == "failed"
        assert bad.nodes["p_exit"].error == "interrupted 3 times: process exited with code 3"
        for run in good:
            run.wait(60)
        assert children(group) == before  # the worker never died
        report = ledger.check(client, dsn, [r.id for r in good], flows.STEADY_OUTPUTS)
        assert report.re_executions == 0  # nothing else was interrupted
        client.close()
