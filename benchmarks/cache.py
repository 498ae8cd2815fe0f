"""Node result caching on a 200-node graph, on the PostgreSQL test server (a database of its
own): the graph runs twice with the same inputs, every node cached; the second run's hit rate
and its time against the first's. Each node does a little work (``WORK`` iterations), what a
hit saves. The floor, measured in the same run: the cache's own database work for that many
nodes as raw psycopg statements (one key lookup joined to its attempt, one row update, each
committed), so the ratio says what the engine adds around the store.

    uv run python benchmarks/cache.py
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

import runtime as rt
from benchmarks.local import database, libpq

NODES = int(os.environ.get("BENCH_NODES", "200"))
WORK = int(os.environ.get("BENCH_WORK", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def first(seed: int, work: int) -> int:
    return sum(i % 7 for i in range(work)) + seed


def step(a: int, b: int, work: int) -> int:
    return (sum(i % 7 for i in range(work)) + a + b) % 1_000_003


def graph() -> rt.Graph:
    """A DAG: node i reads nodes i-1 and i//2 (so both chains and fan-out are there)."""
    g = rt.Graph("cache-bench")
    g.add("n0", first, cache=True)
    g.add("n1", step, inputs={"a": "n0", "b": "n0"}, cache=True)
    for i in range(2, NODES):
        g.add(f"n{i}", step, inputs={"a": f"n{i - 1}", "b": f"n{i // 2}"}, cache=True)
    return g


def floor(url: str, run_id: str) -> float:
    """The cache's database work of ``NODES`` hits as raw statements: per node one lookup of
    its key joined to its attempt and one update of the hit's row, each committed."""
    with psycopg.connect(libpq(url)) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM node_cache")]
        ids = [i for (i,) in conn.execute("SELECT id FROM node_run WHERE run_id = %s", (run_id,))]
        conn.commit()
        start = time.perf_counter()
        for key, row_id in zip(keys, ids, strict=False):
            conn.execute(
                "SELECT r.* FROM node_run r JOIN node_cache c ON c.node_run_id = r.id"
                " WHERE c.key = %s AND r.status = 'succeeded'",
                (key,),
            ).fetchone()
            conn.commit()
            conn.execute("UPDATE node_run SET cached_from = cached_from WHERE id = %s", (row_id,))
            conn.commit()
        return time.perf_counter() - start


def main() -> None:
    firsts, seconds, floors, rates = [], [], [], []
    for _ in range(ROUNDS):
        with database() as url, tempfile.TemporaryDirectory() as home:
            client = rt.connect(url, home=Path(home))
            g = graph()
            start = time.perf_counter()
            one = g.run(seed=1, work=WORK).wait(600)
            firsts.append(time.perf_counter() - start)
            assert one.status == "succeeded", one.error
            start = time.perf_counter()
            two = g.run(seed=1, work=WORK).wait(600)
            seconds.append(time.perf_counter() - start)
            assert two.status == "succeeded", two.error
            assert two.output(f"n{NODES - 1}") == one.output(f"n{NODES - 1}")
            statuses = [n.status for n in two.nodes.values()]
            rates.append(statuses.count("cached") / len(statuses))
            floors.append(floor(url, two.id))
            client.close()
    a, b, raw = (statistics.median(v) for v in (firsts, seconds, floors))
    print(f"cache: a {NODES}-node graph run twice, every node cached, {ROUNDS} rounds (PostgreSQL)")
    print(f"  hit rate of the second run   {statistics.median(rates):9.1%}")
    print(f"  first run (all execute)      {a * 1000:9.1f} ms")
    print(f"  second run (all hits)        {b * 1000:9.1f} ms   ({b / a:.3f}x the first)")
    print(f"  floor: raw lookup + update of {NODES} rows {raw * 1000:7.1f} ms   ({b / raw:.1f}x)")


if __name__ == "__main__":
    main()
