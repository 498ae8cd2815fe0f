"""Scale: a store of a million runs and fifty million events, a 1,000-node run's page, and
graphs of 100 to 10,000 nodes.

    uv run python benchmarks/scale.py [--runs 1000000] [--events-per-run 50] [--keep]

Seeds a PostgreSQL database of its own in bulk (server-side ``generate_series``: minutes, not
hours), then measures, next to a bare indexed ``SELECT ... LIMIT 50`` on the same table:
- the runs list through the REST API (in-process ASGI), unfiltered and filtered by workflow,
  status, trigger and owner, first pages and a page 1,000 pages deep by cursor (p50/p95);
- the studio's run page load of a 1,000-node run (header, events, layout, first render);
- building, validating and versioning graphs of 100, 1,000 and 10,000 nodes.
``--keep`` leaves the seeded database (``plait_scale``) for another look.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from runtime.api import create_api

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "plait_scale"


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(p50, p95) ms of ``repeat`` calls after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(samples, n=20)
    return statistics.median(samples), q[18]


def seed(url: str, runs: int, events_per_run: int) -> None:
    """Workflows with a version each, ``runs`` finished runs spread over a year (statuses,
    triggers and owners mixed), and ``events_per_run`` events each."""
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        version_ids = []
        for i in range(20):
            wid = conn.execute(
                "INSERT INTO workflow (name, created_at) VALUES (%s, now()) RETURNING id",
                (f"wf_{i}",),
            ).fetchone()
            assert wid is not None
            vid = conn.execute(
                "INSERT INTO workflow_version (workflow_id, version, spec, code, created_at) "
                "VALUES (%s, %s, %s, ''::bytea, now()) RETURNING id",
                (wid[0], f"v{i:015d}", psycopg.types.json.Json({"name": f"wf_{i}", "nodes": []})),
            ).fetchone()
            assert vid is not None
            version_ids.append((wid[0], vid[0]))
        conn.execute("CREATE TEMP TABLE versions (k int, wf int, v int)")
        for k, (w, v) in enumerate(version_ids):
            conn.execute("INSERT INTO versions VALUES (%s, %s, %s)", (k, w, v))
        conn.execute("ALTER TABLE event SET UNLOGGED")  # a bulk load; logged again below
        conn.execute(
            """
            INSERT INTO run (id, workflow_id, version_id, status, inputs, trigger, owner,
                             created_at, started_at, ended_at, lease_epoch, cancel_requested)
            SELECT md5(g::text), v.wf, v.v,
                   (ARRAY['succeeded','succeeded','succeeded','failed','cancelled'])[1 + g %% 5],
                   '{}'::json,
                   (ARRAY['sdk','cli','api','studio','webhook','schedule'])[1 + g %% 6],
                   'user' || (g %% 40),
                   now() - make_interval(secs => (%(n)s - g) * 31.5),
                   now() - make_interval(secs => (%(n)s - g) * 31.5 - 1),
                   now() - make_interval(secs => (%(n)s - g) * 31.5 - 2),
                   1, false
            FROM generate_series(1, %(n)s) g JOIN versions v ON v.k = g %% 20
            """,
            {"n": runs},
        )
        print(f"  {runs:,} runs in {time.perf_counter() - t0:.0f} s", flush=True)
        t1 = time.perf_counter()
        conn.execute(
            """
            INSERT INTO event (run_id, seq, type, node, data, created_at)
            SELECT md5(g::text), s, CASE WHEN s = 1 THEN 'run.queued' ELSE 'node.succeeded' END,
                   'n' || s, '{}'::json, now()
            FROM generate_series(1, %(n)s) g CROSS JOIN generate_series(1, %(e)s) s
            """,
            {"n": runs, "e": events_per_run},
        )
        conn.execute("ALTER TABLE event SET LOGGED")
        conn.execute("VACUUM ANALYZE run")
        conn.execute("ANALYZE event")
        print(
            f"  {runs * events_per_run:,} events in {time.perf_counter() - t1:.0f} s",
            flush=True,
        )


def runs_list(url: str, home: Path, repeat: int) -> None:
    client = rt.connect(url.replace("postgresql://", "postgresql+psycopg://"), home=home)
    with TestClient(create_api(lambda: client)) as api:

        def page(query: str) -> Callable[[], object]:
            def call() -> object:
                answer = api.get(f"/api/v1/runs?limit=50{query}")
                assert answer.status_code == 200, answer.text
                return answer.json()

            return call

        deep, pages = "", 1
        while pages <= 1000:  # walk 1,000 pages by cursor, as a person paging would
            body = api.get(f"/api/v1/runs?limit=50&status=failed{deep}").json()
            if not body["next"]:
                break
            deep, pages = f"&after={body['next']}", pages + 1
        cases = {
            "unfiltered": "",
            "workflow": "&workflow=wf_7",
            "status=failed": "&status=failed",
            "trigger=webhook": "&trigger=webhook",
            "owner": "&owner=user7",
            f"status=failed, page {pages:,} by cursor": f"&status=failed{deep}",
        }
        for label, query in cases.items():
            p50, p95 = timed(page(query), repeat)
            print(f"  runs list {label:38} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    with psycopg.connect(url) as conn:

        def bare() -> object:
            return conn.execute(
                "SELECT id FROM run WHERE status = 'failed' ORDER BY created_at DESC LIMIT 50"
            ).fetchall()

        p50, p95 = timed(bare, repeat)
    print(f"  floor: bare indexed SELECT ... LIMIT 50      p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    client.close()


def run_page(url: str, home: Path, repeat: int) -> None:
    from studio import data
    from studio.logic.run_page import RunPage

    client = rt.connect(url.replace("postgresql://", "postgresql+psycopg://"), home=home)
    g = rt.Graph("wide_1000")
    g.add("src", lambda x: x)
    for i in range(999):
        g.add(f"n{i}", lambda src: src + 1, inputs={"src": "src"})
    run = client.start(g, {"x": 1}).wait(600)
    assert run.status == "succeeded", run.error

    def load() -> object:
        header = data.run_header(client, run.id)
        assert header is not None
        page = RunPage.create(header.spec, redactor=header.shown)
        page.apply(client.store.events(run.id))
        return page.render()

    p50, p95 = timed(load, repeat)
    events = len(client.store.events(run.id))
    print(f"  run page of a 1,000-node run ({events:,} events): p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    client.close()


def graphs() -> None:
    for n in (100, 1_000, 10_000):
        t0 = time.perf_counter()
        g = rt.Graph(f"g_{n}")
        g.add("src", lambda x: x)
        for i in range(n - 1):
            g.add(f"n{i}", _inc, inputs={"v": "src" if i < 10 else f"n{i - 10}"})
        built = time.perf_counter()
        g.validate()
        validated = time.perf_counter()
        _ = g.version
        versioned = time.perf_counter()
        total = versioned - t0
        print(
            f"  graph of {n:>6,} nodes: build {(built - t0) * 1000:7.1f} ms, "
            f"validate {(validated - built) * 1000:7.1f} ms, "
            f"version {(versioned - validated) * 1000:7.1f} ms"
            f"; {total / n * 1e6:6.1f} µs per node"
        )


def _inc(v: int) -> int:
    return v + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--events-per-run", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--admin", default=ADMIN)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="use a kept plait_scale as it is")
    args = parser.parse_args()
    url = make_url(args.admin).set(database=DB).render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory() as home:
        if not args.reuse:
            with psycopg.connect(args.admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {DB}")
            rt.connect(url.replace("postgresql://", "postgresql+psycopg://"), home=Path(home))
            print(f"seeding {args.runs:,} runs x {args.events_per_run} events")
            seed(url, args.runs, args.events_per_run)
        print("runs list (REST, in-process):")
        runs_list(url, Path(home), args.repeat)
        print("run page:")
        run_page(url, Path(home), max(args.repeat // 4, 5))
    print("graphs:")
    graphs()
    if not args.keep:
        with psycopg.connect(args.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
