"""Map benchmark: a map of 10,000 trivial elements, its per-element overhead against a
chain's per-node overhead and one raw psycopg INSERT + COMMIT measured in the same run, and
the store transactions it takes (element starts and ends share checkpoints).

    uv run python benchmarks/map.py [--elements 10000] [--concurrency 16] [--sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import runtime as rt
from benchmarks.engine import CommitCounter, chain, raw_commit_ms, timed_run
from benchmarks.local import database


def squares(concurrency: int) -> rt.Graph:
    g = rt.Graph(f"map_{concurrency}")

    @g.node
    def numbers(n: int) -> list[int]:
        return list(range(n))

    def square(numbers: int) -> int:
        return numbers * numbers

    g.map("squares", square, over="numbers", concurrency=concurrency)
    return g


def bench(
    label: str, url: str, home: Path, elements: int, concurrency: int, commit_ms: float
) -> None:
    client = rt.connect(url, home=home)
    print(f"\n## {label}")
    c100 = chain(100)
    timed_run(c100, x=0)  # warm up: publish, fill caches
    per_node = statistics.median(timed_run(c100, x=0)[0] for _ in range(5)) / 100 * 1000
    print(f"chain-100: {per_node:.3f} ms/node ({per_node / commit_ms:.2f}x one commit)")

    g = squares(concurrency)
    timed_run(g, n=10)
    counter = CommitCounter(client.store.engine)
    t0 = time.perf_counter()
    run = g.run(n=elements).wait(600)
    wall = time.perf_counter() - t0
    assert run.status == "succeeded", run.error
    assert run.output("squares")[-1] == (elements - 1) ** 2
    per_element = wall / elements * 1000
    print(
        f"map of {elements:,} elements (concurrency {concurrency}): {wall:.2f} s wall, "
        f"{per_element:.3f} ms/element ({per_element / commit_ms:.2f}x one commit, "
        f"{per_element / per_node:.2f}x a chain node)"
    )
    print(
        f"  transactions (reads included): {counter.count:,} "
        f"({counter.count / elements:.3f} per element)"
    )
    t0 = time.perf_counter()
    shown = run.elements("squares")
    took = (time.perf_counter() - t0) * 1000
    print(f"  reading all {len(shown):,} element rows for a view: {took:.0f} ms")
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elements", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sqlite", action="store_true", help="also on SQLite")
    args = parser.parse_args()
    with database() as url:
        commit_ms = raw_commit_ms(url)
        print(f"raw psycopg INSERT + COMMIT (PostgreSQL, fsync as configured): {commit_ms:.3f} ms")
        with tempfile.TemporaryDirectory() as tmp:
            bench("PostgreSQL", url, Path(tmp), args.elements, args.concurrency, commit_ms)
        if args.sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                db = f"sqlite:///{tmp}/bench.db"
                bench("SQLite", db, Path(tmp), args.elements, args.concurrency, commit_ms)


if __name__ == "__main__":
    main()
