"""Distributed benchmark: real `plait worker` processes on PostgreSQL + Redis. Prints what
PostgreSQL alone sustains (commits/s over 1, 4 and 16 connections), runs/s of the 5-node
diamond with 1, 2 (``--processes 1,2,4``: more) worker processes with the commits each run
costs, g.run() -> first node starting latency, node
finished -> event at a reader in another process, and per-node overhead of a 100-node chain on
a worker, next to the raw PostgreSQL commit and Redis round-trip/publish costs of this run.

    uv run python benchmarks/distributed.py [--runs 1000] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from benchmarks.engine import chain, diamond, raw_commit_ms
from tests.workers import cluster

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/13"


def q(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100)[pct - 1] * 1000


def raw_redis(url: str) -> tuple[float, float]:
    """(PING round trip ms, PUBLISH -> subscriber ms), medians."""
    r = redis.Redis.from_url(url)
    pings = []
    for _ in range(500):
        t0 = time.perf_counter()
        r.ping()
        pings.append(time.perf_counter() - t0)
    sub = redis.Redis.from_url(url).pubsub()
    sub.subscribe("bench:raw")
    sub.get_message(timeout=1)
    hops = []
    for _ in range(300):
        t0 = time.perf_counter()
        r.publish("bench:raw", b"x")
        while sub.get_message(timeout=1) is None:
            pass
        hops.append(time.perf_counter() - t0)
    return statistics.median(pings) * 1000, statistics.median(hops) * 1000


def throughput(client: rt.Client, runs: int) -> float:
    g = diamond()
    client.start(g, {"x": 0}).wait(60)
    t0 = time.perf_counter()
    handles = [client.start(g, {"x": i}) for i in range(runs)]
    for h in handles:
        h.wait(300)
        assert h.status == "succeeded", h.error
    return runs / (time.perf_counter() - t0)


def xact_commits(url: str) -> int:
    """Transactions committed so far in the database (``pg_stat_database``)."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def parallel_commits(url: str, connections: int, seconds: float = 2.0) -> float:
    """What PostgreSQL itself sustains here: INSERT + COMMIT per second over ``connections``
    connections at once (the ceiling every worker shares)."""
    import threading

    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_par (id bigserial primary key, v text)")
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def work(k: int) -> None:
        with psycopg.connect(libpq, autocommit=True) as conn:
            while time.perf_counter() < stop:
                conn.execute("INSERT INTO bench_par (v) VALUES ('x')")
                counts[k] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_par")
    return sum(counts) / seconds


def first_node_latency(client: rt.Client, samples: int = 200) -> list[float]:
    """g.run() returning -> the first node's running event (its start time on the worker)."""
    g = diamond()
    out = []
    for i in range(samples):
        run = client.start(g, {"x": i})
        returned = time.time()
        run.wait(60)
        started = next(e["at"] for e in run.events() if e["type"] == "node.running")
        out.append(started - returned)
    return out


def _reader(env: dict, run_ids: list[str], queue: multiprocessing.Queue) -> None:
    import os

    os.environ.update(env)
    reader = rt.connect()
    queue.put("ready")
    for run_id in run_ids:
        for i, event in enumerate(reader.get_run(run_id).events(stop_at_end=True)):
            if i == 0:  # subscribed, history read: the run may go on now
                queue.put("following")
            if event["type"] == "node.succeeded" and event["node"] == "tick":
                queue.put(time.time() - event["at"])


def event_latency(c, client: rt.Client, samples: int = 50) -> list[float]:
    """A node finishing on a worker -> its event reaching `run.events()` in another process.
    Each run first waits for input, so the reader is already following it live when the
    measured node runs."""
    g = rt.Graph("bench_event")
    g.wait("go", {"n": int})
    g.add("tick", _tick, inputs={"go": "go"})
    runs = [client.start(g, {}) for _ in range(samples)]
    for run in runs:
        run.wait(60)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    env = {k: v for k, v in c.env.items() if k.startswith("PLAIT_")}
    reader = ctx.Process(target=_reader, args=(env, [r.id for r in runs], queue))
    reader.start()
    assert queue.get(timeout=60) == "ready"
    out = []
    for i, run in enumerate(runs):
        assert queue.get(timeout=60) == "following"
        run.resume("go", n=i)
        out.append(queue.get(timeout=60))
    reader.join(30)
    return out


def _tick(go: dict) -> int:
    return go["n"]


def chain_per_node(client: rt.Client) -> float:
    g = chain(100)
    client.start(g, {"x": 0}).wait(60)
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        run = client.start(g, {"x": 0}).wait(120)
        assert run.status == "succeeded"
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls) / 100 * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--processes", default="1,2", help="worker process counts, e.g. 1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    libpq = make_url(PG).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS plait_bench_dist WITH (FORCE)")
        conn.execute("CREATE DATABASE plait_bench_dist")
    url = make_url(PG).set(database="plait_bench_dist").render_as_string(hide_password=False)
    redis.Redis.from_url(REDIS).flushdb()

    commit = raw_commit_ms(url)
    ping, publish = raw_redis(REDIS)
    print(
        f"raw PostgreSQL INSERT+COMMIT {commit:.3f} ms; Redis PING {ping:.3f} ms; "
        f"PUBLISH->subscriber {publish:.3f} ms"
    )

    for n in (1, 4, 16):
        print(f"PostgreSQL alone, {n:2} connections: {parallel_commits(url, n):,.0f} commits/s")

    home = Path(tempfile.mkdtemp())
    key = secrets.token_hex(16)
    for processes in counts:
        with cluster(url, REDIS, home, lease_seconds=30.0, secret_key=key) as c:
            c.start_worker(processes=processes, concurrency=32)
            client = c.connect()
            before = xact_commits(url)
            rate = throughput(client, args.runs)
            per_run = (xact_commits(url) - before) / (args.runs + 1)
            print(
                f"diamond x{args.runs}, {processes} worker process(es): {rate:.0f} runs/s, "
                f"{rate * 5:,.0f} node checkpoints/s; {per_run:.1f} PostgreSQL commits per run "
                f"({rate * per_run:,.0f} commits/s)"
            )
            if processes == 1:
                lat = first_node_latency(client)
                print(
                    f"g.run() -> first node start: p50 {q(lat, 50):.2f} ms, "
                    f"p99 {q(lat, 99):.2f} ms ({q(lat, 50) / ping:.1f}x a Redis round trip)"
                )
                ev = event_latency(c, client)
                print(
                    f"node finished -> event at a reader in another process: "
                    f"p50 {q(ev, 50):.2f} ms, p99 {q(ev, 99):.2f} ms "
                    f"({q(ev, 50) / publish:.1f}x a raw PUBLISH hop)"
                )
                per_node = chain_per_node(client)
                print(
                    f"chain-100 on a worker: {per_node:.3f} ms/node "
                    f"({per_node / commit:.2f}x one PostgreSQL commit)"
                )
            client.close()
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS plait_bench_dist WITH (FORCE)")


if __name__ == "__main__":
    main()
