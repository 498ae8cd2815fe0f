"""Fan-out scheduling: 1,000- and 10,000-leaf fan-outs run embedded on SQLite and PostgreSQL.

    uv run python benchmarks/fanout.py [--widths 1000,10000]

Prints, per store and width: the run's wall time, the CPU time the engine spent choosing what
to start (``_Pass._schedule``, summed over the run) and both per node; next to a 100-node chain's
per-node cost and one raw psycopg INSERT + COMMIT measured in the same run, as ratios.
Scheduling is linear in the node count when its per-node cost stays flat as the width grows.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from benchmarks.engine import chain, raw_commit_ms, timed_run
from benchmarks.local import database
from runtime import engine


def fan_out(width: int) -> rt.Graph:
    """One source feeding ``width`` leaves (the leaves are the run's outputs)."""
    g = rt.Graph(f"fanout_{width}")
    g.add("src", _source)
    for i in range(width):
        g.add(f"leaf{i}", _inc, inputs={"v": "src"})
    return g


def _source(x: int) -> int:
    return x


def _inc(v: int) -> int:
    return v + 1


class ScheduleClock:
    """Sums the CPU seconds the engine's thread spends in ``_Pass._schedule`` (every pass,
    every loop): its own cost, without the time other threads (database writes) or other
    processes on a busy machine hold the CPU meanwhile."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        original: Callable[..., Any] = engine._Pass._schedule

        @functools.wraps(original)
        def timed(pass_: Any) -> Any:
            t0 = time.thread_time()
            try:
                return original(pass_)
            finally:
                self.seconds += time.thread_time() - t0
                self.calls += 1

        engine._Pass._schedule = timed  # type: ignore[method-assign,assignment]

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0


def bench(label: str, url: str, home: Path, widths: list[int], commit_ms: float) -> None:
    client = rt.connect(url, home=home)
    clock = CLOCK
    print(f"\n## {label}")
    c100 = chain(100)
    timed_run(c100, x=0)
    samples = []
    for _ in range(3):
        clock.reset()
        samples.append(timed_run(c100, x=0)[0])
    chain_ms = statistics.median(samples) / 100 * 1000
    chain_sched_us = clock.seconds / 100 * 1e6
    print(
        f"chain-100: {chain_ms:.3f} ms/node ({chain_ms / commit_ms:.2f}x one commit); "
        f"scheduling {chain_sched_us:.1f} us/node"
    )
    for width in widths:
        g = fan_out(width)
        g.validate()
        _ = g.version
        clock.reset()
        wall, _run = timed_run(g, x=1)
        nodes = width + 1
        per_node = wall / nodes * 1000
        sched_us = clock.seconds / nodes * 1e6
        print(
            f"fan-out 1->{width:,}: {wall:.2f} s wall, {per_node:.3f} ms/node "
            f"({per_node / chain_ms:.2f}x a chain's node, {per_node / commit_ms:.2f}x one "
            f"commit); scheduling {clock.seconds:.3f} s = {sched_us:.1f} us/node "
            f"({sched_us / max(chain_sched_us, 1e-9):.2f}x a chain's), {clock.calls} calls"
        )
    client.close()


CLOCK = ScheduleClock()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--widths", default="1000,10000")
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    stores = args.stores.split(",")
    with database() as pg_url:
        commit_ms = raw_commit_ms(pg_url)
        print(f"raw psycopg INSERT + COMMIT (PostgreSQL, fsync as configured): {commit_ms:.3f} ms")
        if "sqlite" in stores:
            with tempfile.TemporaryDirectory() as tmp:
                bench("SQLite", f"sqlite:///{tmp}/bench.db", Path(tmp), widths, commit_ms)
        if "postgresql" in stores:
            with tempfile.TemporaryDirectory() as tmp:
                bench("PostgreSQL", pg_url, Path(tmp), widths, commit_ms)


if __name__ == "__main__":
    main()
