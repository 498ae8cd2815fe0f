"""Engine benchmark: prints per-node overhead, run throughput and latency, fan-out wall time,
WAL bytes per node and DataFrame storage, on PostgreSQL and SQLite, each as a ratio to one
raw psycopg INSERT + COMMIT measured in the same run.

    uv run python benchmarks/engine.py [--runs 500] [--pg postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import runtime as rt
from runtime.store import tables


def chain(n: int) -> rt.Graph:
    g = rt.Graph(f"chain_{n}")
    g.add("n0", lambda x: x + 1)
    for i in range(1, n):
        g.add(f"n{i}", _inc, inputs={"v": f"n{i - 1}"})
    return g


def _inc(v: int) -> int:
    return v + 1


def diamond() -> rt.Graph:
    g = rt.Graph("diamond5")
    g.add("a", lambda x: x)
    g.add("b", lambda a: a + 1)
    g.add("c", lambda a: a + 2)
    g.add("d", lambda a: a + 3)
    g.add("e", lambda b, c, d: b + c + d)
    return g


def fan(width: int) -> rt.Graph:
    g = rt.Graph(f"fan_{width}")
    g.add("src", lambda x: x)
    for i in range(width):
        g.add(f"w{i}", _inc, inputs={"v": "src"})
    g.add("sink", _total(width), inputs={f"w{i}": f"w{i}" for i in range(width)})
    return g


def _total(width: int):
    params = ", ".join(f"w{i}" for i in range(width))
    namespace: dict = {}
    exec(f"def sink({params}):\n    return sum([{params}])", namespace)
    return namespace["sink"]


def frame_graph(rows: int) -> rt.Graph:
    g = rt.Graph("frame")
    g.add("data", lambda seed: _frame(rows, seed))
    return g


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"id": np.arange(rows), "value": rng.normal(size=rows), "cat": rng.integers(0, 50, rows)}
    )


def timed_run(graph: rt.Graph, **inputs: object) -> tuple[float, rt.Run]:
    t0 = time.perf_counter()
    run = graph.run(**inputs).wait(120)
    elapsed = time.perf_counter() - t0
    assert run.status == "succeeded", run.error
    return elapsed, run


def raw_commit_ms(pg_url: str, samples: int = 500) -> float:
    libpq = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id serial primary key, v text)")
        conn.commit()
        times = []
        for i in range(samples):
            t0 = time.perf_counter()
            conn.execute("INSERT INTO bench_raw (v) VALUES (%s)", (f"row {i}",))
            conn.commit()
            times.append(time.perf_counter() - t0)
        conn.execute("DROP TABLE bench_raw")
        conn.commit()
    return statistics.median(times) * 1000


def wal_position(client: rt.Client) -> int:
    with client.store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar())


class CommitCounter:
    """Counts transactions the store commits (reads included)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        sa.event.listen(engine, "commit", self._on_commit)

    def _on_commit(self, _conn: object) -> None:
        self.count += 1


def bench(label: str, url: str, home: Path, runs: int, commit_ms: float) -> None:
    client = rt.connect(url, home=home)
    is_pg = client.store.dialect == "postgresql"
    print(f"\n## {label}")

    c100 = chain(100)
    timed_run(c100, x=0)  # warm up: publish the version, fill caches
    counter = CommitCounter(client.store.engine)
    samples, wal = [], []
    for _ in range(5):
        before = wal_position(client) if is_pg else 0
        elapsed, _run = timed_run(c100, x=0)
        if is_pg:
            wal.append(wal_position(client) - before)
        samples.append(elapsed)
    per_node = statistics.median(samples) / 100 * 1000
    print(f"chain-100: {per_node:.3f} ms/node  ({per_node / commit_ms:.2f}x one commit)")
    print(f"  transactions per node (all, reads included): {counter.count / 500:.2f}")
    if is_pg:
        print(f"  WAL per node: {statistics.median(wal) / 100:.0f} bytes")

    g = diamond()
    timed_run(g, x=1)
    latencies = []
    t0 = time.perf_counter()
    for i in range(runs):
        latencies.append(timed_run(g, x=i)[0])
    total = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    p50, p99 = q[49] * 1000, q[98] * 1000
    print(
        f"diamond x{runs}: {runs / total:.0f} runs/s; p50 {p50:.2f} ms "
        f"({p50 / commit_ms:.1f}x), p99 {p99:.2f} ms ({p99 / commit_ms:.1f}x)"
    )

    f = fan(50)
    timed_run(f, x=1)
    walls = [timed_run(f, x=1)[0] for _ in range(5)]
    wall = statistics.median(walls) * 1000
    print(f"fan 1->50->1: {wall:.1f} ms wall ({wall / commit_ms:.1f}x one commit)")

    fg = frame_graph(100_000)
    _, run = timed_run(fg, seed=1)
    buffer = io.BytesIO()
    run.output("data").to_parquet(buffer, engine="pyarrow", index=True)
    with client.store.read() as conn:
        stored = conn.execute(sa.select(sa.func.sum(tables.blob.c.size))).scalar() or 0
        if is_pg:
            on_disk = conn.execute(sa.text("SELECT pg_total_relation_size('blob')")).scalar()
        else:
            on_disk = None
    print(
        f"100,000-row DataFrame: parquet {len(buffer.getvalue()) / 1e6:.2f} MB; "
        f"stored {stored / 1e6:.2f} MB ({stored / len(buffer.getvalue()):.2f}x)"
        + (f"; blob table on disk {on_disk / 1e6:.2f} MB" if on_disk else "")
    )
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    server = make_url(args.pg)
    libpq = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS plait_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE plait_bench")
    bench_url = server.set(database="plait_bench").render_as_string(hide_password=False)

    commit_ms = raw_commit_ms(bench_url)
    print(f"raw psycopg INSERT + COMMIT (PostgreSQL, fsync as configured): {commit_ms:.3f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        bench("PostgreSQL", bench_url, Path(tmp), args.runs, commit_ms)
    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite", f"sqlite:///{tmp}/bench.db", Path(tmp), args.runs, commit_ms)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS plait_bench WITH (FORCE)")


if __name__ == "__main__":
    main()
