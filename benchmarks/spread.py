"""One run spread across workers: a fan-out of N one-second nodes (``time.sleep(1)``) on 1
and on 4 ``plait worker`` processes of 16 slots each, PostgreSQL + Redis. Prints the wall
time of the run (start -> succeeded) against the ideal N / slots, and the speed-up of 4
processes over 1, next to the raw PostgreSQL commit and Redis round trip of this run.

The pass advancing the run keeps no node for itself (``PLAIT_SPREAD_KEEP=0``): it holds one
of its process's slots, so 1 process executes on 15 slots and 4 on 63.

With ``--map``, the run is one map node of N one-second elements instead (``concurrency``
= the most slots of any process count): the pass drives the elements and hands every one out
as its own message (again ``PLAIT_SPREAD_KEEP=0``).

    uv run python benchmarks/spread.py [--nodes 200] [--processes 1,4] [--slots 16] [--map]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from benchmarks.distributed import raw_redis
from benchmarks.engine import raw_commit_ms
from benchmarks.local import database
from tests.workers import cluster

REDIS = "redis://127.0.0.1:6379/10"


def sleeper(seed: int, seconds: float) -> int:
    time.sleep(seconds)
    return seed


def origin(n: int) -> int:
    return n


def fanout(nodes: int) -> rt.Graph:
    g = rt.Graph(f"bench_spread_{nodes}")
    g.add("seed", origin)
    for i in range(nodes):
        g.add(f"sleep_{i:04d}", sleeper)
    return g


def numbers(n: int, count: int) -> list[int]:
    return [n] * count


def element(numbers: int, seconds: float) -> int:
    time.sleep(seconds)
    return numbers


def mapped(elements: int, concurrency: int) -> rt.Graph:
    g = rt.Graph(f"bench_spread_map_{elements}_{concurrency}")
    g.add("numbers", numbers)
    g.map("slept", element, over="numbers", concurrency=concurrency)
    return g


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=200, help="one-second nodes (issue: 1000)")
    parser.add_argument("--processes", default="1,4", help="worker process counts")
    parser.add_argument("--slots", type=int, default=16, help="slots per worker process")
    parser.add_argument("--seconds", type=float, default=1.0, help="each node's sleep")
    parser.add_argument("--map", action="store_true", help="one map node of N elements")
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    redis.Redis.from_url(REDIS).flushdb()
    graph = mapped(args.nodes, max(counts) * args.slots) if args.map else fanout(args.nodes)
    inputs = {"n": 1, "seconds": args.seconds, "count": args.nodes}
    what = "elements" if args.map else "nodes"
    walls: dict[int, float] = {}
    with database() as url:
        commit = raw_commit_ms(url)
        ping, publish = raw_redis(REDIS)
        print(
            f"raw PostgreSQL INSERT+COMMIT {commit:.3f} ms; Redis PING {ping:.3f} ms; "
            f"PUBLISH->subscriber {publish:.3f} ms"
        )
        home = Path(tempfile.mkdtemp())
        for processes in counts:
            env = {"PLAIT_SPREAD_KEEP": "0", "PLAIT_SPREAD_MAX": str(args.nodes)}
            with cluster(
                url, REDIS, home, lease_seconds=30.0, secret_key=secrets.token_hex(16)
            ) as c:
                c.start_worker(processes=processes, concurrency=args.slots, env=env)
                client = c.connect()
                try:
                    client.start(fanout(2), {"n": 0, "seconds": 0.0}).wait(60)  # warm up
                    t0 = time.perf_counter()
                    run = client.start(graph, inputs).wait(3600)
                    wall = time.perf_counter() - t0
                    assert run.status == "succeeded", run.error
                    if args.map:
                        rows = client.store.element_attempts(run.id, "slept")
                    else:
                        rows = [a for a in client.run_attempts(run.id) if a.node != "seed"]
                    owners: dict[str, int] = {}
                    for a in rows:
                        owners[a.owner or "?"] = owners.get(a.owner or "?", 0) + 1
                    starts = sorted(a.started_at.timestamp() for a in rows if a.started_at)
                    ends = sorted(a.ended_at.timestamp() for a in rows if a.ended_at)
                    print(
                        f"  {what} per process: {sorted(owners.values(), reverse=True)}; "
                        f"rows inserted over {starts[-1] - starts[0]:.2f} s, "
                        f"ended over {ends[-1] - ends[0]:.2f} s"
                    )
                finally:
                    client.close()
            slots = processes * args.slots - 1
            ideal = args.nodes * args.seconds / slots
            walls[processes] = wall
            print(
                f"{args.nodes} x {args.seconds:g}s {what} on {processes} process(es) of "
                f"{args.slots} slots ({slots} for {what}): {wall:.2f} s; ideal {ideal:.2f} s "
                f"(x{wall / ideal:.2f}); per {what[:-1]} above its sleep: "
                f"{(wall - ideal) / args.nodes * slots * 1000:.1f} ms "
                f"(= {(wall - ideal) / args.nodes * slots * 1000 / commit:.0f} raw commits)"
            )
    if 1 in walls:
        for processes, wall in walls.items():
            if processes != 1:
                print(
                    f"speed-up {processes} processes over 1: x{walls[1] / wall:.2f} "
                    f"(ideal x{(processes * args.slots - 1) / (args.slots - 1):.2f})"
                )


if __name__ == "__main__":
    main()
