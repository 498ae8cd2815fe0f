"""Token-to-DOM latency in the studio, through `plait studio` (Reflex production mode) and
Debian Chromium, with PostgreSQL + Redis and a `plait worker` running an ``llm`` node (a fake
streaming model holding its answer back, so the node stays running).

With the node's panel open, this process publishes streamed-text events (``node.tokens``,
the engine's own ``token_event``) on the Redis bus the studio listens to, one every
``--every`` ms, each carrying a marker; the browser records when each marker first shows in
the panel (a MutationObserver, wall clock: performance.timeOrigin + now()). Prints p50/p95
publish -> DOM, and the raw floor measured in the same run: publish -> a Redis subscriber in
this process (the bus alone), as a ratio.

The llm node's own coalescing (``TOKEN_FLUSH_SECONDS``, 50 ms) comes before the publish and
is not in these figures: a model's token waits at most that long before it is published.

    uv run python benchmarks/studio_tokens.py [--tokens 100] [--every 60]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent.parent))

from runtime.events import TOKENS, token_event
from runtime.store.tables import EventDict
from tests.browser import chromium
from tests.studio.conftest import start_studio, stop_studio
from tests.token_models import story_graph
from tests.workers import cluster

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "plait_bench_tokens"

OBSERVE = """
() => {
  window.__seen = {};
  const panel = document.querySelector('.plait-node-panel');
  const look = () => {
    const el = document.getElementById('node-stream');
    if (!el) return;
    const now = performance.timeOrigin + performance.now();
    for (const m of el.textContent.matchAll(/<(\\d+)>/g)) {
      if (!(m[1] in window.__seen)) window.__seen[m[1]] = now;
    }
  };
  new MutationObserver(look).observe(panel, {subtree: true, childList: true,
                                             characterData: true});
}
"""


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--every", type=float, default=60.0, help="ms between tokens")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    libpq = make_url(PG).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    url = make_url(PG).set(database=DATABASE).render_as_string(hide_password=False)
    home = Path(tempfile.mkdtemp())
    gates = Path(tempfile.mkdtemp())
    try:
        with (
            cluster(
                url, args.redis, home, lease_seconds=30.0, secret_key=secrets.token_hex(16)
            ) as c,
            chromium() as browser,
        ):
            c.start_worker(processes=1)
            env = {k: v for k, v in c.env.items() if k.startswith("PLAIT_")}
            studio = start_studio(env, home, "bench-redis")
            try:
                client = studio.connect()
                run = client.start(story_graph("bench_tokens", gates), {"topic": "latency"})
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(f"{studio.url}/runs/{run.id}")
                answer = '.react-flow__node[data-id="answer"]'
                page.locator(answer + ".plait-running").wait_for(timeout=120_000)
                page.locator(answer).click()
                (gates / "go").touch()  # the model's first words: the panel shows its text
                page.locator("#node-stream", has_text="Once upon").wait_for(timeout=60_000)
                page.evaluate(OBSERVE)

                heard: dict[int, float] = {}

                def floor(batch: list[EventDict]) -> None:
                    now = time.time() * 1000
                    for e in batch:
                        if e["type"] == TOKENS and e["data"]["text"].startswith(" <"):
                            heard.setdefault(int(e["data"]["text"][2:-1]), now)

                unsubscribe = client.bus.subscribe(run.id, floor)
                published: dict[int, float] = {}
                for i in range(args.tokens):
                    event = token_event(run.id, "answer", 1, f" <{i}>")
                    published[i] = time.time() * 1000
                    client.bus.publish(run.id, [event])
                    time.sleep(args.every / 1000)
                deadline = time.monotonic() + 30
                seen: dict[str, float] = {}
                while time.monotonic() < deadline:
                    seen = page.evaluate("window.__seen")
                    if len(seen) == args.tokens and len(heard) == args.tokens:
                        break
                    time.sleep(0.1)
                unsubscribe()
                (gates / "finish").touch()
                assert client.get_run(run.id).wait(120).status == "succeeded"

                dom = [seen[str(i)] - t for i, t in published.items() if str(i) in seen]
                bus = [heard[i] - t for i, t in published.items() if i in heard]
                p50, p95 = pct(dom, 50), pct(dom, 95)
                f50, f95 = pct(bus, 50), pct(bus, 95)
                print(
                    f"token publish -> DOM (studio node panel, worker on PostgreSQL + Redis): "
                    f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(dom):.1f} ms over "
                    f"{len(dom)}/{args.tokens} tokens {args.every:.0f} ms apart"
                )
                print(
                    f"raw floor, bus publish -> Redis subscriber in this process: "
                    f"p50 {f50:.2f} ms, p95 {f95:.2f} ms over {len(bus)} tokens"
                )
                print(
                    f"studio over the floor: p50 x{p50 / f50:.1f}, p95 x{p95 / f95:.1f}; "
                    f"target p50 <= 50 ms: {'met' if p50 <= 50 else 'NOT met'}"
                )
            finally:
                stop_studio(studio)
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
