"""Replay of a long chain from its last node, on the PostgreSQL test server (a database of its
own): what a replay writes (attempt rows, blob rows and bytes) and how long it takes to plan,
to create (the reused checkpoints written by reference) and to finish, against a fresh run of
the same graph. The floor, measured in the same run: the same number of rows copied by one raw
``INSERT ... SELECT`` in one transaction (psycopg).

    uv run python benchmarks/replay.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import psycopg
import sqlalchemy as sa

import runtime as rt
from benchmarks.local import database, libpq
from runtime.store import tables
from tests.core.replay_flows import long_chain

NODES = int(os.environ.get("BENCH_NODES", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def written(client: rt.Client) -> tuple[int, int, int]:
    with client.store.read() as conn:
        blobs, size = conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(tables.blob.c.size), 0))
        ).one()
        rows = conn.execute(sa.select(sa.func.count()).select_from(tables.node_run)).scalar()
    return int(blobs), int(size), int(rows or 0)


def floor(url: str, source: str) -> list[float]:
    """The replay's row copy as one raw statement: ``NODES`` rows, one transaction."""
    took = []
    with psycopg.connect(libpq(url)) as conn:
        conn.execute("CREATE TEMP TABLE copied AS SELECT * FROM node_run WHERE false")
        conn.commit()
        for _ in range(ROUNDS):
            start = time.perf_counter()
            conn.execute(
                "INSERT INTO copied (id, run_id, node, attempt, status, started_at, ended_at,"
                " output_codec, output_inline, output_blob, output_size, will_retry)"
                " SELECT id, 'x', node, 1, 'succeeded', started_at, ended_at, output_codec,"
                " output_inline, output_blob, output_size, false"
                " FROM node_run WHERE run_id = %s",
                (source,),
            )
            conn.commit()
            took.append(time.perf_counter() - start)
            conn.execute("DELETE FROM copied")
            conn.commit()
    return took


def main() -> None:
    with database() as url, tempfile.TemporaryDirectory() as home:
        client = rt.connect(url, home=Path(home))
        graph = long_chain(NODES)
        start = time.perf_counter()
        source = graph.run(seed=50_000).wait(600)
        fresh = time.perf_counter() - start
        assert source.status == "succeeded", source.error
        last = f"n{NODES - 1}"
        plans, stores, creates, totals = [], [], [], []
        before = written(client)
        for _ in range(ROUNDS):
            start = time.perf_counter()
            client.replay_plan(source.id, from_nodes=[last])
            plans.append(time.perf_counter() - start)
            start = time.perf_counter()
            replay = client.replay(source.id, from_nodes=[last])
            creates.append(time.perf_counter() - start)
            assert replay.wait(600).status == "succeeded"
            totals.append(time.perf_counter() - start)
        after = written(client)
        for _ in range(ROUNDS):  # the store's write alone: run row + reused rows, one transaction
            plan, new, given = client._replay(source.id, [last], {}, {}, "latest")
            start = time.perf_counter()
            client.store.create_replay(new, plan.reuse_rows, given, inline_limit=16_384)
            stores.append(time.perf_counter() - start)
        raw = statistics.median(floor(url, source.id))
        client.close()
    blobs, size, rows = (a - b for a, b in zip(after, before, strict=True))
    plan, store, create, total = (statistics.median(v) for v in (plans, stores, creates, totals))
    print(f"replay of a {NODES}-node chain from its last node, {ROUNDS} replays (PostgreSQL)")
    print(f"  written per replay: {rows / ROUNDS:.0f} attempt rows, {blobs} blob rows, {size} B")
    print(f"  fresh run of the graph         {fresh * 1000:9.1f} ms")
    print(f"  plan (nothing written)         {plan * 1000:9.1f} ms")
    print(f"  store write of the replay      {store * 1000:9.1f} ms   ({store / raw:.1f}x floor)")
    print(f"  plan + create (Client.replay)  {create * 1000:9.1f} ms")
    print(f"  create + run to the end        {total * 1000:9.1f} ms   ({total / fresh:.3f}x fresh)")
    print(f"  floor: raw INSERT ... SELECT of {NODES} rows + commit {raw * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
