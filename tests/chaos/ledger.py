"""The side-effect ledger of the chaos suite: a table, apart from Plait's own, where node code
writes one row per execution (start, and end once its code has returned), and where the test
writes down every process it kills. From it the suite checks what users rely on:

- no node executed again once an attempt of it succeeded;
- no two executions of one node overlapped (a killed execution ends when its process died);
- every run finished, with the outputs of an undisturbed run.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import runtime as rt
from runtime.store import tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS chaos_effect (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    node text NOT NULL,
    attempt int NOT NULL,
    pid int NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at timestamptz
);
CREATE TABLE IF NOT EXISTS chaos_kill (
    pid int NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
TRUNCATE chaos_effect, chaos_kill;
"""


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def prepare(url: str) -> str:
    """Create (and empty) the ledger in the database at ``url``; returns its libpq DSN, the
    value the chaos flows take as their ``ledger`` input."""
    dsn = libpq(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return dsn


def kill(
    dsn: str,
    pid: int,
    sig: int = signal.SIGKILL,
    *,
    group: bool = False,
    members: Sequence[int] = (),
) -> None:
    """Kill a process (or its group, whose ``members`` die with it), and write down on the
    database's clock when it was dead: nothing it started before that goes on after."""
    # the processes a worker started (children running isolated attempts) die with it: they
    # notice their pipe closing and kill themselves; wait for that too
    victims = {pid, *members}
    victims.update(d for v in list(victims) for d in descendants(v))
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return
    with psycopg.connect(dsn, autocommit=True) as conn:
        if sig != signal.SIGKILL:
            for victim in victims:
                conn.execute("INSERT INTO chaos_kill (pid) VALUES (%s)", (victim,))
            return
        # each one's death, as soon as it is seen: a tight bound per process
        deadline = time.monotonic() + 5
        left = set(victims)
        while left:
            for victim in [v for v in left if not _running(v) or time.monotonic() > deadline]:
                conn.execute("INSERT INTO chaos_kill (pid) VALUES (%s)", (victim,))
                left.discard(victim)
            time.sleep(0.001)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    """Whether the process still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass
class Execution:
    run_id: str
    node: str
    attempt: int
    pid: int
    started_at: dt.datetime
    ended_at: dt.datetime | None


@dataclass
class Report:
    executions: int
    re_executions: int
    """Executions of a node beyond its first (interrupted, failed and retried, or killed)."""
    kills: int

    def __str__(self) -> str:
        return (
            f"{self.executions} executions, {self.re_executions} re-executions of interrupted "
            f"or retried nodes, {self.kills} processes killed"
        )


def emit(scenario: str, **figures: object) -> None:
    """Print one scenario's figures as a line ``benchmarks/chaos.py`` collects (run pytest with
    ``-s`` to see them)."""
    print("\nCHAOS " + json.dumps({"scenario": scenario, **figures}, default=str))


def executions(dsn: str) -> list[Execution]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT run_id, node, attempt, pid, started_at, ended_at FROM chaos_effect ORDER BY id"
        ).fetchall()
    return [Execution(*row) for row in rows]


def check(client: rt.Client, dsn: str, run_ids: list[str], expected: dict[str, object]) -> Report:
    """Assert the chaos suite's guarantees for these runs; ``expected``: every run's outputs
    (those of an undisturbed run)."""
    done = executions(dsn)
    with psycopg.connect(dsn) as conn:
        kills: dict[int, list[dt.datetime]] = defaultdict(list)
        for pid, at in conn.execute("SELECT pid, at FROM chaos_kill ORDER BY at"):
            kills[pid].append(at)
    by_node: dict[tuple[str, str], list[Execution]] = defaultdict(list)
    for e in done:
        by_node[(e.run_id, e.node)].append(e)

    nr = tables.node_run
    with client.store.read() as conn:
        succeeded = {
            (r.run_id, r.node): r.attempt
            for r in conn.execute(
                sa.select(nr.c.run_id, nr.c.node, nr.c.attempt).where(
                    nr.c.run_id.in_(run_ids), nr.c.status == "succeeded"
                )
            )
        }
        duplicates = conn.execute(
            sa.select(nr.c.run_id, nr.c.node, sa.func.count())
            .where(nr.c.run_id.in_(run_ids), nr.c.status == "succeeded")
            .group_by(nr.c.run_id, nr.c.node)
            .having(sa.func.count() > 1)
        ).all()
    assert not duplicates, f"nodes with two succeeded attempts: {duplicates}"

    for (run_id, node), runs in by_node.items():
        if run_id not in run_ids or node.startswith("~"):  # "~": a side effect, not a node
            continue
        attempts = [e.attempt for e in runs]
        assert len(attempts) == len(set(attempts)), (
            f"{run_id}:{node}: one attempt executed twice ({attempts})"
        )
        winner = succeeded.get((run_id, node))
        if winner is not None:
            assert max(attempts) == winner, (
                f"{run_id}:{node}: executed again (attempt {max(attempts)}) after attempt "
                f"{winner} succeeded"
            )
        spans = sorted(((e.started_at, _end(e, kills)), e) for e in runs)
        for ((_, end), first), ((start, _), second) in itertools.pairwise(spans):
            if end is None or start < end:
                rows = [
                    (a.attempt, a.status, a.owner, a.error_type)
                    for a in client.store.node_attempts(run_id, node)
                ]
                raise AssertionError(
                    f"{run_id}:{node}: two attempts executed at the same time: {first} "
                    f"(killed: {kills.get(first.pid)}) and {second}; attempt rows: {rows}"
                )

    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.status == "succeeded", f"run {run_id} is {run.status}: {run.error}"
        assert run.outputs == expected, f"run {run_id}: {run.outputs} != {expected}"
    with client.store.read() as conn:
        leased = conn.execute(
            sa.select(nr.c.run_id, nr.c.node, nr.c.attempt).where(
                nr.c.run_id.in_(run_ids), nr.c.lease_until.is_not(None)
            )
        ).all()
    assert not leased, f"attempt leases left behind by finished runs: {leased}"

    total_kills = sum(len(v) for v in kills.values())
    ours = [e for e in done if e.run_id in run_ids and not e.node.startswith("~")]
    firsts = len({(e.run_id, e.node) for e in ours})
    mine = len(ours)
    return Report(mine, mine - firsts, total_kills)


def _end(e: Execution, kills: dict[int, list[dt.datetime]]) -> dt.datetime | None:
    """When an execution stopped: its recorded end, or the first kill of its process after
    it started (then its code cannot have gone on)."""
    if e.ended_at is not None:
        return e.ended_at
    return next((at for at in kills.get(e.pid, []) if at >= e.started_at), None)
