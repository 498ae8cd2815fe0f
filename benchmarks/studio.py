"""Studio benchmark, through `plait studio` (Reflex production mode) and Debian Chromium.
Prints:

- node finished (on a `plait worker`, PostgreSQL + Redis) -> the browser's DOM showing it,
  p50/p95 over 100 nodes finishing 100 ms apart; the same with the embedded studio executing;
- the same with the run executing in another process on the embedded store (a notebook next
  to `plait studio`, both on one SQLite file), per local bus: ``sockets`` (the default) and
  ``process`` (no cross-process doorbell: the studio's 1 s re-read of the table);
- the runs page with 10,000 runs in the database: first paint and a status filter (SQLite and
  PostgreSQL);
- a 300-node graph: first render, and a live run recolouring all 300 nodes (none dropped).

Times in the browser are wall-clock (performance.timeOrigin + now()); event times are the
store's ``at`` stamps written on the worker: the same machine clock.

    uv run python benchmarks/studio.py [--skip-redis] [--only-cross-process]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
import sqlalchemy as sa
from playwright.sync_api import Browser, Page
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from runtime.store import tables
from tests.browser import chromium
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio
from tests.workers import cluster

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/12"
DATABASE = "plait_bench_studio"

OBSERVE = """
() => {
  window.__seen = {};
  const record = (el) => {
    const id = el.getAttribute && el.getAttribute('data-id');
    if (id && el.classList.contains('plait-succeeded') && !(id in window.__seen)) {
      window.__seen[id] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === 'attributes') record(c.target);
      else c.addedNodes.forEach(record);
    }
  }).observe(document.querySelector('.react-flow__nodes'),
             {subtree: true, attributes: true, attributeFilter: ['class'], childList: true});
}
"""


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def start(studio: Studio, client: rt.Client, graph: rt.Graph, inputs: dict, embedded: bool) -> str:
    """Embedded: through the studio's API, so the studio process executes the run."""
    if embedded:
        client.publish(graph)
        return studio.start_run(graph.name, inputs)
    return client.start(graph, inputs).id


def live_run(
    studio: Studio, client: rt.Client, page: Page, graph: rt.Graph, pause: float, embedded: bool
) -> tuple[list[float], int, float]:
    """Open the run page while its gate holds, then let every node finish. Returns per-node
    latencies (ms, event written -> DOM shows succeeded), how many nodes the DOM showed
    succeeded, and ms from the last event to the last DOM change."""
    gate = Path(tempfile.mkdtemp()) / "open"
    run_id = start(studio, client, graph, {"gate_file": str(gate), "pause": pause}, embedded)
    page.goto(f"{studio.url}/runs/{run_id}")
    first = graph.plan.order[0]
    page.locator(f'.react-flow__node[data-id="{first}"].plait-running').wait_for(timeout=60_000)
    page.evaluate(OBSERVE)
    gate.touch()
    run = client.get_run(run_id).wait(300)
    assert run.status == "succeeded", run.error
    page.locator("#run-status", has_text="succeeded").wait_for(timeout=60_000)
    seen: dict[str, float] = page.evaluate("window.__seen")
    finished = {e["node"]: e["at"] * 1000 for e in run.events() if e["type"] == "node.succeeded"}
    latencies = [seen[n] - finished[n] for n in finished if n in seen and n != first]
    lag = max(seen.values()) - max(finished.values())
    return latencies, len(seen), lag


def seed_runs(client: rt.Client, count: int) -> None:
    """``count`` finished runs over the last 30 days, inserted in bulk."""
    versions = [client.publish(g) for g in (flows.failing, flows.approval, flows.typed)]
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(7)
    statuses = ["succeeded"] * 6 + ["failed"] * 2 + ["cancelled", "waiting"]
    rows = []
    for i in range(count):
        version = versions[i % len(versions)]
        created = now - dt.timedelta(seconds=rng.uniform(0, 30 * 86400))
        rows.append(
            {
                "id": uuid.uuid4().hex,
                "workflow_id": version.workflow_id,
                "version_id": version.id,
                "status": rng.choice(statuses),
                "inputs": {},
                "trigger": rng.choice(["sdk", "cli", "studio", "api"]),
                "created_at": created,
                "started_at": created,
                "ended_at": created + dt.timedelta(seconds=rng.uniform(0.01, 30)),
                "cancel_requested": False,
            }
        )
    with client.store.write() as conn:
        for i in range(0, len(rows), 1000):
            conn.execute(sa.insert(tables.run), rows[i : i + 1000])


def runs_page(studio: Studio, browser: Browser, repeats: int = 5) -> tuple[float, float, float]:
    """(first contentful paint, table shown, filter applied) in ms, medians."""
    paints, tables_, filters = [], [], []
    for i in range(repeats):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(studio.url + "/runs")
        page.locator(".plait-run-row").nth(49).wait_for(timeout=60_000)
        tables_.append(page.evaluate("performance.now()"))
        paints.append(
            page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
            )
        )
        status = ["failed", "cancelled", "waiting", "succeeded", "failed"][i % 5]
        page.locator("#filter-status").click()
        option = page.get_by_role("option", name=status, exact=True)
        option.wait_for()
        t0 = time.perf_counter()
        option.click()
        page.wait_for_function(
            "s => { const r = [...document.querySelectorAll('.plait-run-row')];"
            " return r.length === 50 && r.every(x => x.dataset.status === s); }",
            arg=status,
            polling="raf",
            timeout=60_000,
        )
        filters.append((time.perf_counter() - t0) * 1000)
        context.close()
    return statistics.median(paints), statistics.median(tables_), statistics.median(filters)


def graph_render(studio: Studio, browser: Browser, run_id: str, repeats: int = 3) -> float:
    """ms from navigation to all 300 nodes of a finished run in the DOM, median."""
    times = []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{studio.url}/runs/{run_id}")
        page.wait_for_function(
            "document.querySelectorAll('.react-flow__node.plait-succeeded').length === 300",
            polling="raf",
            timeout=60_000,
        )
        times.append(page.evaluate("performance.now()"))
        context.close()
    return statistics.median(times)


def report_live(label: str, latencies: list[float], seen: int, expected: int, lag: float) -> None:
    print(
        f"{label}: node finished -> DOM p50 {pct(latencies, 50):.1f} ms, "
        f"p95 {pct(latencies, 95):.1f} ms, max {max(latencies):.1f} ms "
        f"over {len(latencies)} nodes; DOM showed {seen}/{expected} succeeded; "
        f"last event -> last DOM change {lag:.1f} ms"
    )


def bench(studio: Studio, client: rt.Client, browser: Browser, label: str, embedded: bool) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    ticks = flows.gated_chain(f"bench_ticks_{label}", 100)
    lat, seen, lag = live_run(studio, client, page, ticks, 0.1, embedded)
    report_live(f"[{label}] 100 nodes 100 ms apart", lat, seen, 101, lag)

    wide = flows.wide_graph(f"bench_wide_{label}", 300, 10, gated=True)
    lat, seen, lag = live_run(studio, client, page, wide, 0.02, embedded)
    report_live(f"[{label}] 300-node graph, live", lat, seen, 300, lag)
    context.close()
    done = client.runs(workflow=wide.name, limit=1)[0]
    drawn = graph_render(studio, browser, done.id)
    print(f"[{label}] 300-node graph: all nodes drawn {drawn:.0f} ms after navigation")

    seed_runs(client, 10_000)
    total = len(client.runs(limit=20_000))
    paint, table, filtered = runs_page(studio, browser)
    print(
        f"[{label}] runs page, {total:,} runs: first contentful paint {paint:.0f} ms, "
        f"table of 50 shown {table:.0f} ms, status filter applied {filtered:.0f} ms"
    )


def cross_process(browser: Browser) -> None:
    """An embedded studio, and the run executing in this process (``client.start``); first,
    as the reference without any bus between processes, the studio executing it."""
    for local_bus in ("sockets", "process"):
        home = Path(tempfile.mkdtemp())
        studio = start_studio({"PLAIT_LOCAL_BUS": local_bus}, home, "bench-cross-process")
        try:
            client = rt.connect(
                studio.env["PLAIT_DATABASE_URL"], home=home, local_bus=local_bus, redis_url=None
            )
            studio.clients.append(client)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            if local_bus == "sockets":
                ticks = flows.gated_chain("bench_cross_reference", 100)
                lat, seen, lag = live_run(studio, client, context.new_page(), ticks, 0.1, True)
                label = "[embedded, the studio executing: the reference]"
                report_live(f"{label} 100 nodes 100 ms apart", lat, seen, 101, lag)
            ticks = flows.gated_chain(f"bench_cross_{local_bus}", 100)
            lat, seen, lag = live_run(studio, client, context.new_page(), ticks, 0.1, False)
            label = f"[embedded, run in another process, local_bus={local_bus}]"
            report_live(f"{label} 100 nodes 100 ms apart", lat, seen, 101, lag)
            context.close()
        finally:
            stop_studio(studio)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument("--only-cross-process", action="store_true")
    args = parser.parse_args()
    with chromium() as browser:
        cross_process(browser)
        if args.only_cross_process:
            return
        home = Path(tempfile.mkdtemp())
        studio = start_studio({}, home, "bench-embedded")
        try:
            bench(studio, studio.connect(), browser, "embedded, SQLite", embedded=True)
        finally:
            stop_studio(studio)
        if not args.skip_redis:
            libpq = make_url(PG).set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {DATABASE}")
            url = make_url(PG).set(database=DATABASE).render_as_string(hide_password=False)
            redis.Redis.from_url(REDIS).flushdb()
            home = Path(tempfile.mkdtemp())
            with cluster(
                url, REDIS, home, lease_seconds=30.0, secret_key=secrets.token_hex(16)
            ) as c:
                c.start_worker(processes=1, concurrency=16)
                env = {k: v for k, v in c.env.items() if k.startswith("PLAIT_")}
                studio = start_studio(env, home, "bench-redis")
                try:
                    bench(
                        studio,
                        studio.connect(),
                        browser,
                        "worker, PostgreSQL + Redis",
                        embedded=False,
                    )
                finally:
                    stop_studio(studio)
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
