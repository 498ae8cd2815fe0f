"""Process isolation benchmark: the cost per attempt of a trivial node, called in a thread (as
the engine calls sync nodes), in a warm child (the same key again), in a pre-started spare (a
key's first attempt) and in a child started cold; then a node returning a DataFrame, in a
thread and in a warm child; p50/p99 each, and as a ratio to the thread.

    uv run python benchmarks/isolation.py [--calls 1000] [--start-calls 200] [--rows 1000000]

Each isolated call includes what the engine pays: pickling the call, the frames both ways, the
encoding of the output in the child.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import statistics
import time
from collections.abc import Awaitable, Callable

from runtime import codecs
from runtime.isolation import Job, ProcessPool


def trivial(x: int) -> int:
    return x + 1


def frame(rows: int) -> object:
    import numpy as np
    import pandas as pd

    return pd.DataFrame({"id": np.arange(rows), "value": np.arange(rows) * 0.5})


def context(i: int) -> dict[str, object]:
    return {"run_id": "bench", "node": "trivial", "attempt": i + 1}


def nothing(name: str, kind: str, encoded: codecs.Encoded) -> None:
    return None


async def timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    seconds = []
    for i in range(calls):
        t0 = time.perf_counter()
        await call(i)
        seconds.append(time.perf_counter() - t0)
    return seconds


async def thread_calls(calls: int, target: Callable[..., object], **kwargs: object) -> list[float]:
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as threads:

        def call() -> codecs.Encoded:
            return codecs.encode(target(**kwargs))

        return await timed(calls, lambda i: loop.run_in_executor(threads, call))


async def warm_calls(calls: int, target: Callable[..., object], **kwargs: object) -> list[float]:
    async with ProcessPool(spares=1) as pool:
        await pool.run(Job.of("v1", target, kwargs, context=context(0)), nothing)
        return await timed(
            calls, lambda i: pool.run(Job.of("v1", target, kwargs, context=context(i)), nothing)
        )


async def spare_calls(calls: int) -> list[float]:
    """A new key each time, taken from a spare that is ready (the next one is started as it is
    taken, and is waited for outside the timing)."""
    seconds = []
    async with ProcessPool(spares=1, max_idle=0) as pool:
        for i in range(calls):
            await pool.ready()
            job = Job.of(f"v{i}", trivial, {"x": 1}, context=context(i))
            t0 = time.perf_counter()
            await pool.run(job, nothing)
            seconds.append(time.perf_counter() - t0)
    return seconds


async def cold_calls(calls: int) -> list[float]:
    async with ProcessPool(spares=0, max_idle=0) as pool:
        return await timed(
            calls,
            lambda i: pool.run(Job.of(f"v{i}", trivial, {"x": 1}, context=context(i)), nothing),
        )


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def table(title: str, rows: list[tuple[str, list[float]]]) -> None:
    base = statistics.median(rows[0][1])
    print(f"\n{title}")
    print(f"{'mode':40} {'calls':>6} {'p50 ms':>9} {'p99 ms':>9} {'p50 / thread':>13}")
    for name, seconds in rows:
        p50, p99 = statistics.median(seconds), percentile(seconds, 99)
        print(f"{name:40} {len(seconds):6} {p50 * 1e3:9.3f} {p99 * 1e3:9.3f} {p50 / base:12.1f}x")


async def main(calls: int, start_calls: int, rows: int) -> None:
    table(
        "a trivial node (x + 1)",
        [
            ("thread (engine's sync-node path)", await thread_calls(calls, trivial, x=1)),
            ("process, warm child (same key)", await warm_calls(calls, trivial, x=1)),
            ("process, pre-started spare (new key)", await spare_calls(start_calls)),
            ("process, cold start (no spare)", await cold_calls(start_calls)),
        ],
    )
    size = len(codecs.encode(frame(rows)).data)
    table(
        f"a node returning a {rows:,}-row DataFrame ({size / 1e6:.1f} MB as Parquet)",
        [
            ("thread (engine's sync-node path)", await thread_calls(50, frame, rows=rows)),
            ("process, warm child (same key)", await warm_calls(50, frame, rows=rows)),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="thread and warm-child calls")
    parser.add_argument(
        "--start-calls", type=int, default=200, help="calls that each need a child of their own"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the DataFrame")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.start_calls, args.rows))
