"""Plait next to its peers, in one session on one PostgreSQL: the one-commit floor, Plait on
PostgreSQL (embedded), LangGraph with its PostgresSaver, and DBOS, with the same trivial node
bodies, interleaved round by round so a busy machine hurts every system alike. Prints the
table and writes it as JSON.

    uv run --group bench python benchmarks/peers.py [--rounds 3] [--runs 500] [--workers]
        [--json peers.json]

Workloads: a chain of 100 nodes (ms per node), sequential runs of a 5-node diamond (runs/s,
p50/p99 ms per run), a fan-out 1 -> 50 -> 1 (ms), and the WAL bytes per chain node (read from
``pg_current_wal_lsn``: keep the server otherwise idle for that column). ``--workers`` adds
Plait on 2 ``plait worker`` processes over Redis.
"""

from __future__ import annotations

import argparse
import json
import operator
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from benchmarks.engine import chain, diamond, fan

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/13"
CHAIN, FAN = 100, 50


@dataclass
class Figures:
    """One system's samples over all rounds."""

    chain_ms: list[float] = field(default_factory=list)
    """Wall time of one chain-100 run, ms."""
    diamond_ms: list[float] = field(default_factory=list)
    """Wall time of each sequential diamond run, ms."""
    diamond_wall_s: list[float] = field(default_factory=list)
    """Wall time of each round's batch of diamond runs, s."""
    fan_ms: list[float] = field(default_factory=list)
    wal_bytes: list[float] = field(default_factory=list)
    """WAL written by one chain-100 run."""

    def row(self, runs: int) -> dict[str, float]:
        q = statistics.quantiles(self.diamond_ms, n=100) if len(self.diamond_ms) > 1 else [0] * 99
        return {
            "chain_ms_per_node": statistics.median(self.chain_ms) / CHAIN,
            "diamond_runs_per_s": runs / statistics.median(self.diamond_wall_s),
            "diamond_p50_ms": q[49],
            "diamond_p99_ms": q[98],
            "fan_ms": statistics.median(self.fan_ms),
            "wal_bytes_per_node": statistics.median(self.wal_bytes) / CHAIN
            if self.wal_bytes
            else float("nan"),
        }


class System:
    """One contender: ``chain()``, ``diamond(i)`` and ``fan()`` each run one workflow to the
    end, durably, before returning."""

    name: str

    def chain(self) -> None: ...
    def diamond(self, i: int) -> None: ...
    def fan(self) -> None: ...
    def close(self) -> None: ...


# -- the floor: one INSERT + COMMIT per node, nothing else -----------------------------------


class Floor(System):
    """What one durable commit per node costs: each node's body runs, then its output is
    inserted and committed before the next node starts (what every system here promises)."""

    name = "floor (1 commit/node)"

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True, prepare_threshold=0)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS floor_step "
            "(run_id uuid, node text, output jsonb, PRIMARY KEY (run_id, node))"
        )

    def _step(self, run_id: uuid.UUID, node: str, value: int) -> int:
        self.conn.execute(
            "INSERT INTO floor_step VALUES (%s, %s, %s)", (run_id, node, json.dumps(value))
        )
        return value

    def chain(self) -> None:
        run, v = uuid.uuid4(), 0
        for i in range(CHAIN):
            v = self._step(run, f"n{i}", v + 1)

    def diamond(self, i: int) -> None:
        run = uuid.uuid4()
        a = self._step(run, "a", i)
        b, c, d = (self._step(run, n, a + k) for n, k in (("b", 1), ("c", 2), ("d", 3)))
        self._step(run, "e", b + c + d)

    def fan(self) -> None:
        run = uuid.uuid4()
        src = self._step(run, "src", 1)
        total = sum(self._step(run, f"w{i}", src + 1) for i in range(FAN))
        self._step(run, "sink", total)

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS floor_step")
        self.conn.close()


# -- Plait ----------------------------------------------------------------------------------


class Plait(System):
    def __init__(self, client: rt.Client, name: str = "Plait-pg") -> None:
        self.name = name
        self.client = client
        self.graphs = {"chain": chain(CHAIN), "diamond": diamond(), "fan": fan(FAN)}

    def _run(self, graph: str, **inputs: Any) -> None:
        run = self.client.start(self.graphs[graph], inputs).wait(120)
        assert run.status == "succeeded", run.error

    def chain(self) -> None:
        self._run("chain", x=0)

    def diamond(self, i: int) -> None:
        self._run("diamond", x=i)

    def fan(self) -> None:
        self._run("fan", x=1)

    def close(self) -> None:
        self.client.close()


# -- LangGraph + PostgresSaver --------------------------------------------------------------


class ChainState(TypedDict):
    v: int


class SumState(TypedDict):
    x: int
    a: int
    parts: Annotated[list[int], operator.add]
    out: int


def _adder(k: int) -> Callable[[SumState], dict[str, Any]]:
    return lambda s: {"parts": [s["a"] + k]}


class LangGraph(System):
    """Checkpoints with ``durability="sync"``: each step's checkpoint is committed before the
    next step starts, as Plait and the floor do."""

    name = "LangGraph + PostgresSaver"

    def __init__(self, url: str) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.graph import END, START, StateGraph

        self._saver_cm = PostgresSaver.from_conn_string(url)
        saver = self._saver_cm.__enter__()
        saver.setup()

        c = StateGraph(ChainState)
        for i in range(CHAIN):
            c.add_node(f"n{i}", lambda s: {"v": s["v"] + 1})
            c.add_edge(START if i == 0 else f"n{i - 1}", f"n{i}")
        c.add_edge(f"n{CHAIN - 1}", END)

        d = StateGraph(SumState)
        d.add_node("a", lambda s: {"a": s["x"]})
        for name, k in (("b", 1), ("c", 2), ("d", 3)):
            d.add_node(name, _adder(k))
            d.add_edge("a", name)
        d.add_node("e", lambda s: {"out": sum(s["parts"])})
        d.add_edge(START, "a")
        d.add_edge(["b", "c", "d"], "e")
        d.add_edge("e", END)

        f = StateGraph(SumState)
        f.add_node("src", lambda s: {"a": s["x"]})
        f.add_edge(START, "src")
        workers = [f"w{i}" for i in range(FAN)]
        for w in workers:
            f.add_node(w, lambda s: {"parts": [s["a"] + 1]})
            f.add_edge("src", w)
        f.add_node("sink", lambda s: {"out": sum(s["parts"])})
        f.add_edge(workers, "sink")
        f.add_edge("sink", END)

        self.graphs = {
            name: g.compile(checkpointer=saver)
            for name, g in (("chain", c), ("diamond", d), ("fan", f))
        }

    def _run(self, graph: str, state: dict[str, Any]) -> None:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        self.graphs[graph].invoke(state, config, durability="sync")  # type: ignore[arg-type]

    def chain(self) -> None:
        self._run("chain", {"v": 0})

    def diamond(self, i: int) -> None:
        self._run("diamond", {"x": i, "parts": []})

    def fan(self) -> None:
        self._run("fan", {"x": 1, "parts": []})

    def close(self) -> None:
        self._saver_cm.__exit__(None, None, None)


# -- DBOS -----------------------------------------------------------------------------------


class Dbos(System):
    """Each node a ``@DBOS.step`` of one ``@DBOS.workflow`` (DBOS checkpoints each step's
    output before the next starts)."""

    name = "DBOS"

    def __init__(self, url: str) -> None:
        from dbos import DBOS

        self.dbos = DBOS(
            config={"name": "plait_peers", "system_database_url": url, "log_level": "WARNING"}
        )

        @DBOS.step()
        def inc(v: int) -> int:
            return v + 1

        @DBOS.step()
        def add(v: int, k: int) -> int:
            return v + k

        @DBOS.step()
        def total(parts: list[int]) -> int:
            return sum(parts)

        @DBOS.workflow()
        def chain_wf() -> int:
            v = 0
            for _ in range(CHAIN):
                v = inc(v)
            return v

        @DBOS.workflow()
        def diamond_wf(x: int) -> int:
            a = add(x, 0)
            return total([add(a, k) for k in (1, 2, 3)])

        @DBOS.workflow()
        def fan_wf() -> int:
            src = add(1, 0)
            return total([inc(src) for _ in range(FAN)])

        self.workflows: dict[str, Callable[..., int]] = {
            "chain": chain_wf,
            "diamond": diamond_wf,
            "fan": fan_wf,
        }
        DBOS.launch()

    def chain(self) -> None:
        self.workflows["chain"]()

    def diamond(self, i: int) -> None:
        self.workflows["diamond"](i)

    def fan(self) -> None:
        self.workflows["fan"]()

    def close(self) -> None:
        from dbos import DBOS

        DBOS.destroy()


# -- the session ----------------------------------------------------------------------------


def wal_lsn(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def one_round(system: System, figures: Figures, runs: int, admin_url: str) -> None:
    system.chain()  # warm: caches, prepared statements, a published version
    before = wal_lsn(admin_url)
    t0 = time.perf_counter()
    system.chain()
    figures.chain_ms.append((time.perf_counter() - t0) * 1000)
    figures.wal_bytes.append(wal_lsn(admin_url) - before)
    start = time.perf_counter()
    for i in range(runs):
        t0 = time.perf_counter()
        system.diamond(i)
        figures.diamond_ms.append((time.perf_counter() - t0) * 1000)
    figures.diamond_wall_s.append(time.perf_counter() - start)
    system.fan()
    for _ in range(3):
        t0 = time.perf_counter()
        system.fan()
        figures.fan_ms.append((time.perf_counter() - t0) * 1000)


def fresh_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def print_table(rows: dict[str, dict[str, float]], runs: int) -> None:
    floor = rows[Floor.name]

    def ratio(value: float, base: float) -> str:
        return f"{value / base:.1f}x" if base else "-"

    print(
        f"\n| system | chain-100 ms/node | {runs} diamond runs/s (p50 / p99 ms) "
        "| fan-out 1->50->1 ms | WAL bytes/node |"
    )
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['chain_ms_per_node']:.3f} "
            f"({ratio(r['chain_ms_per_node'], floor['chain_ms_per_node'])}) "
            f"| {r['diamond_runs_per_s']:.0f} ({r['diamond_p50_ms']:.1f} / "
            f"{r['diamond_p99_ms']:.1f}; "
            f"p50 {ratio(r['diamond_p50_ms'], floor['diamond_p50_ms'])}) "
            f"| {r['fan_ms']:.1f} ({ratio(r['fan_ms'], floor['fan_ms'])}) "
            f"| {r['wal_bytes_per_node']:.0f} "
            f"({ratio(r['wal_bytes_per_node'], floor['wal_bytes_per_node'])}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=500, help="diamond runs per round")
    parser.add_argument("--pg", default=PG, help="a PostgreSQL server's admin URL (libpq form)")
    parser.add_argument("--workers", action="store_true", help="add 2 plait worker processes")
    parser.add_argument("--skip", action="append", default=[], help="e.g. --skip DBOS")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    made = {n: fresh_database(args.pg, f"peers_{n}") for n in ("floor", "plait", "lg", "dbos")}
    with tempfile.TemporaryDirectory() as home:
        plait_url = make_url(made["plait"]).set(drivername="postgresql+psycopg")
        factories: dict[str, Callable[[], System]] = {
            Floor.name: lambda: Floor(made["floor"]),
            "Plait-pg": lambda: Plait(
                rt.connect(plait_url.render_as_string(hide_password=False), home=Path(home))
            ),
            LangGraph.name: lambda: LangGraph(made["lg"]),
            Dbos.name: lambda: Dbos(made["dbos"]),
        }
        systems = [f() for n, f in factories.items() if n not in args.skip]
        cluster_cm = None
        if args.workers:
            from tests.workers import cluster

            (Path(home) / "dist").mkdir()
            cluster_cm = cluster(
                plait_url.render_as_string(hide_password=False), REDIS, Path(home) / "dist"
            )
            c = cluster_cm.__enter__()
            c.start_worker(processes=2)
            systems.append(Plait(c.connect(), name="Plait on 2 workers (Redis)"))
        figures = {s.name: Figures() for s in systems}
        try:
            for r in range(args.rounds):
                for system in systems:
                    one_round(system, figures[system.name], args.runs, args.pg)
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            for system in systems:
                system.close()
            if cluster_cm is not None:
                cluster_cm.__exit__(None, None, None)
    for name in made:
        drop_database(args.pg, f"peers_{name}")
    with psycopg.connect(args.pg) as conn:
        row = conn.execute("SHOW fsync").fetchone()
    print(f"PostgreSQL fsync={row[0] if row else '?'}; {args.rounds} rounds, interleaved")
    rows = {name: f.row(args.runs) for name, f in figures.items()}
    print_table(rows, args.runs)
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "samples": {n: asdict(f) for n, f in figures.items()}})
        )


if __name__ == "__main__":
    main()
