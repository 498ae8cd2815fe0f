"""Schedule fire-time lateness, on the PostgreSQL test server (a database of its own).

Two schedulers (each its own client, so each its own advisory-lock session: one leads) run on
the real clock for ``SECONDS`` with ``SCHEDULES`` schedules firing every second. For each fire
time: how late it was stored with its run (``schedule_fire.fired_at - fire_at``) and how late
its run started (``run.started_at - fire_at``, the embedded executor of the leader). The floor,
measured in the same run: a fire's writes as raw psycopg statements in one transaction, one raw
INSERT + commit, and the oversleep of a timed wait (how late a thread wakes at a given
instant).

    uv run python benchmarks/schedules.py
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import psycopg

import runtime as rt
from benchmarks.local import database, libpq
from runtime import schedules
from runtime.scheduler import Scheduler

SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
SCHEDULES = int(os.environ.get("BENCH_SCHEDULES", "3"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(label: str, values: list[float], floor: float | None = None) -> str:
    p50, p99 = statistics.median(values), pct(values, 0.99)
    ratio = f"  ({p50 / floor:.1f}x the floor's p50)" if floor else ""
    return (
        f"{label:44} p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   n={len(values)}{ratio}"
    )


def insert_floor(url: str, n: int = 200) -> list[float]:
    """One INSERT + commit of a fire-like row, raw psycopg."""
    took = []
    with psycopg.connect(libpq(url)) as conn:
        conn.execute("CREATE TEMP TABLE floor (id serial, s int, at timestamptz, UNIQUE (s, at))")
        conn.commit()
        for i in range(n):
            start = time.perf_counter()
            conn.execute("INSERT INTO floor (s, at) VALUES (1, now() + %s * interval '1s')", (i,))
            conn.commit()
            took.append(time.perf_counter() - start)
    return took


def fire_floor(url: str, n: int = 200) -> list[float]:
    """A fire's writes in raw psycopg: the fire row, the run, its event, the fire's run id and
    the schedule's cursor, in one transaction (what ``fire_schedule`` writes)."""
    took = []
    with psycopg.connect(libpq(url)) as conn:
        conn.execute("CREATE TEMP TABLE f (id serial, s int, at int, run text, UNIQUE (s, at))")
        conn.execute("CREATE TEMP TABLE r (id text primary key, inputs json, status text)")
        conn.execute("CREATE TEMP TABLE e (run text, seq int, type text, PRIMARY KEY (run, seq))")
        conn.execute("CREATE TEMP TABLE c (id int primary key, last int)")
        conn.execute("INSERT INTO c VALUES (1, 0)")
        conn.commit()
        for i in range(n):
            run = secrets.token_hex(16)
            start = time.perf_counter()
            fid = conn.execute("INSERT INTO f (s, at) VALUES (1, %s) RETURNING id", (i,)).fetchone()
            conn.execute("INSERT INTO r VALUES (%s, '{}', 'queued')", (run,))
            conn.execute("INSERT INTO e VALUES (%s, 1, 'run.queued')", (run,))
            conn.execute("UPDATE f SET run = %s WHERE id = %s", (run, fid[0]))  # type: ignore[index]
            conn.execute("UPDATE c SET last = %s WHERE id = 1 AND last < %s", (i, i))
            conn.commit()
            took.append(time.perf_counter() - start)
    return took


def wake_floor(n: int = 50) -> list[float]:
    """How late ``Event.wait`` returns after the instant it was asked to."""
    event, late = threading.Event(), []
    for _ in range(n):
        target = time.monotonic() + 0.02
        event.wait(target - time.monotonic())
        late.append(time.monotonic() - target)
    return late


def main() -> None:
    g = rt.Graph("bench_tick")

    @g.node
    def stamp(label: str = "x") -> str:
        return label

    with database() as url, tempfile.TemporaryDirectory() as home:
        clients = [rt.connect(url, home=Path(home)) for _ in range(2)]
        clients[0].publish(g)
        for i in range(SCHEDULES):
            schedules.create(
                clients[0], "bench_tick", "* * * * * *", inputs={"label": str(i)}, overlap="allow"
            )
        runners = [Scheduler(c, poll=1.0).start() for c in clients]
        time.sleep(SECONDS)  # the schedulers run on the real clock: that is what is measured
        for runner in runners:
            runner.stop()
        store = clients[0].store
        stored, started = [], []
        for schedule, _ in store.schedules():
            assert schedule.id is not None
            for fire in store.schedule_fires(schedule.id, 100_000):
                stored.append((fire.fired_at - fire.fire_at).total_seconds())
                if fire.run_id:
                    run = store.get_run(fire.run_id)
                    if run.started_at is not None:
                        started.append((run.started_at - fire.fire_at).total_seconds())
        fires = len(stored)
        expected = SECONDS * SCHEDULES
        floor = insert_floor(url)
        fire = fire_floor(url)
        wake = wake_floor()
        print(f"{SCHEDULES} schedules every second for {SECONDS} s, two schedulers (one leads)")
        print(f"fires stored: {fires} (about {expected} fire times passed; each stored once)")
        print(line("fire time -> fire + run stored (lateness)", stored, statistics.median(fire)))
        print(line("fire time -> run started (embedded executor)", started))
        print(line("floor: a fire's writes, raw (5 statements)", fire))
        print(line("floor: raw INSERT + commit (psycopg)", floor))
        print(line("floor: timed wait oversleep", wake))
        for c in clients:
            c.close()


if __name__ == "__main__":
    main()
