"""Team access benchmark, on the PostgreSQL test server (a database of its own):

- the login page to first paint (Chromium, the page ``runtime.login`` serves, on uvicorn);
- a REST call with an API key against the same call answered as the local user (no users),
  with the raw cost of the key's primary-key read measured in the same run, and one argon2
  verification for scale (it is not on the per-request path);
- the remote SDK's ``g.run`` to the first node's start against the embedded SDK's.

    uv run python benchmarks/auth.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import httpx
import psycopg

import runtime as rt
from benchmarks.local import database, libpq, serve
from runtime import client as client_module
from runtime.api import create_api
from runtime.auth import passwords
from runtime.auth.apikeys import ApiKeys
from runtime.auth.gate import Gate
from runtime.auth.users import Users
from runtime.login import login_app
from tests.browser import chromium

STARTED: list[float] = []
"""perf_counter of each benchmark node's start (the node runs in this process)."""


def ms(values: list[float]) -> str:
    values = sorted(values)
    p50 = statistics.median(values) * 1000
    p90 = values[int(len(values) * 0.9) - 1] * 1000
    return f"{p50:7.2f} {p90:7.2f}"


def timed(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(10):
        call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


graph = rt.Graph("bench_first_node")


@graph.node
def first(n: int = 0) -> int:
    sys.modules["__main__"].STARTED.append(time.perf_counter())  # type: ignore[attr-defined]
    return n


def to_first_node(start: Callable[[int], rt.Run], n: int) -> tuple[float, list[float]]:
    """Seconds from ``start`` to the node's first line: the first call, then ``n`` more."""
    times = []
    for i in range(n + 1):
        STARTED.clear()
        t0 = time.perf_counter()
        run = start(i)
        while not STARTED:
            time.sleep(0.0005)
        times.append(STARTED[0] - t0)
        run.wait(30)
    return times[0], times[1:]


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    print("figure                                         p50 ms  p90 ms")
    with database() as url:
        c = rt.connect(url, home=tmp)
        gate = Gate(lambda: c.store, c.settings)

        # -- login page to first paint --------------------------------------------------------
        Users(c.store).add("bench", "admin", "benchmark password")
        with serve(login_app(lambda: gate)) as base, chromium() as browser:
            paints = []
            for _ in range(15):
                page = browser.new_page()
                page.goto(base + "/login?next=/")
                paint = page.evaluate(
                    "() => new Promise(r => { const f = () => { const e = "
                    "performance.getEntriesByName('first-contentful-paint')[0]; "
                    "e ? r(e.startTime) : setTimeout(f, 5) }; f() })"
                )
                paints.append(paint / 1000)
                page.close()
        print(f"login page: navigation to first paint         {ms(paints[3:])}")
        with c.store.write() as conn:
            conn.exec_driver_sql("DELETE FROM account")

        # -- REST call: local user against an API key --------------------------------------
        graph.run().wait(30)
        local_api = create_api(lambda: c, gate=Gate(lambda: c.store, c.settings))
        with serve(local_api) as base, httpx.Client(base_url=base) as http:
            local = timed(lambda: http.get("/api/v1/runs?limit=1").raise_for_status(), 300)
        Users(c.store).add("bench", "admin", "benchmark password")
        token, key = ApiKeys(c.store).create("bench", "viewer", by="bench")
        keyed_api = create_api(lambda: c, gate=Gate(lambda: c.store, c.settings))
        with (
            serve(keyed_api) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http,
        ):
            keyed = timed(lambda: http.get("/api/v1/runs?limit=1").raise_for_status(), 300)
            denied = timed(lambda: http.get("/api/v1/users"), 300)
        with psycopg.connect(libpq(url)) as conn:
            raw = timed(
                lambda: conn.execute(
                    "SELECT secret_hash FROM api_key WHERE id = %s", (key.id,)
                ).fetchone(),
                300,
            )
        hashed = passwords.hash_password("benchmark password")
        argon = timed(lambda: passwords.verify(hashed, "benchmark password"), 10)
        print(f"GET /runs?limit=1 as the local user (no key)  {ms(local)}")
        print(f"GET /runs?limit=1 with an API key             {ms(keyed)}")
        overhead = (statistics.median(keyed) - statistics.median(local)) * 1000
        print(f"  overhead of the key (p50)                   {overhead:7.2f}")
        print(f"GET /users with a viewer key (403)            {ms(denied)}")
        print(f"raw PostgreSQL: the key's primary-key read    {ms(raw)}")
        print(f"one argon2id verification (login only)        {ms(argon)}")

        # -- g.run to the first node's start: embedded against remote ----------------------
        first_embedded, embedded = to_first_node(lambda i: graph.run(n=i), 20)
        admin, _ = ApiKeys(c.store).create("remote", "editor", by="bench")
        remote_graph = rt.Graph("bench_first_node_remote")
        remote_graph.add("first", first)
        with serve(create_api(lambda: c, gate=Gate(lambda: c.store, c.settings))) as base:
            remote = rt.connect(api_url=base, api_key=admin)
            first_remote, remote_times = to_first_node(lambda i: remote_graph.run(n=i), 20)
            remote.close()
        once = f"(first {first_embedded * 1000:.1f})"
        print(f"embedded g.run -> first node start            {ms(embedded)}  {once}")
        once = f"(first {first_remote * 1000:.1f}, incl. publish)"
        print(f"remote g.run -> first node start              {ms(remote_times)}  {once}")
        client_module._default = None
        c.close()


if __name__ == "__main__":
    main()
