"""Webhook and admission benchmark.

- ``POST /hooks/<id>`` to its ``202 {"run_id"}`` (signature check, delivery claim, run
  stored and enqueued), over real HTTP on uvicorn, sequentially: embedded (SQLite, in-process
  execution) and PostgreSQL + Redis (the run enqueued on Taskiq; no worker, so only the
  request path is timed). The floor measured in the same run: an empty POST answered by a
  bare Starlette route on the same kind of server, plus the raw database writes the path
  cannot avoid (one INSERT + commit; on Redis one XADD).
- Admission overhead per run start on PostgreSQL: ``create_run`` + ``acquire`` of a run of
  a workflow with ``max_concurrent_runs`` against one without.

    uv run python benchmarks/webhooks.py
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import httpx
import psycopg
import redis
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import runtime as rt
from benchmarks.local import database, libpq, serve
from runtime import client as client_module
from runtime.api import create_api
from runtime.api_webhooks import webhooks_of
from runtime.triggers import signatures

REDIS = os.environ.get("PLAIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
N = 300

graph = rt.Graph("bench_hook")


@graph.node
def received(payload: dict) -> int:
    return len(payload)


def timed(call: Callable[[int], object], n: int = N) -> list[float]:
    for i in range(10):
        call(-1 - i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        out.append(time.perf_counter() - t0)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def row(label: str, values: list[float], floor: list[float] | None = None) -> None:
    text = f"{label:46} {statistics.median(values) * 1000:7.2f} {p(values, 0.99):7.2f}"
    if floor is not None:
        text += f"  x{statistics.median(values) / statistics.median(floor):5.1f} of the floor"
    print(text)


def http_floor() -> list[float]:
    async def empty(request: object) -> JSONResponse:
        await request.body()  # type: ignore[attr-defined]
        return JSONResponse({"run_id": "x"}, 202)

    app = Starlette(routes=[Route("/hooks/{id}", empty, methods=["POST"])])
    with serve(app) as base, httpx.Client(base_url=base) as http:
        return timed(lambda i: http.post("/hooks/x", content=b'{"n": 1}'))


def hook_times(client: rt.Client) -> list[float]:
    client.publish(graph)
    made = webhooks_of(client).create("bench_hook")
    with serve(create_api(lambda: client)) as base, httpx.Client(base_url=base) as http:

        def deliver(i: int) -> None:
            body = f'{{"n": {i}}}'.encode()
            msg = f"bench-{i}-{secrets.token_hex(4)}"
            ts = int(time.time())
            answer = http.post(
                made.path,
                content=body,
                headers={
                    "content-type": "application/json",
                    "webhook-id": msg,
                    "webhook-timestamp": str(ts),
                    "webhook-signature": signatures.sign(made.secret, msg, ts, body),
                },
            )
            assert answer.status_code == 202, answer.text

        return timed(deliver)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    print("figure                                          p50 ms  p99 ms")
    floor_http = http_floor()
    row("floor: bare Starlette POST -> 202 (uvicorn)", floor_http)

    # -- embedded ---------------------------------------------------------------------------
    embedded = rt.connect(f"sqlite:///{tmp / 'plait.db'}", home=tmp)
    hooks_embedded = hook_times(embedded)
    embedded.close()
    client_module._default = None
    raw = sqlite3.connect(tmp / "floor.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")

    def sqlite_insert(i: int) -> None:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("INSERT INTO t (v) VALUES (?)", (str(i),))
        raw.execute("COMMIT")

    floor_sqlite = timed(sqlite_insert)
    floor = [a + b for a, b in zip(floor_http, floor_sqlite, strict=True)]
    row("floor: + one raw SQLite INSERT + commit", floor)
    row("embedded (SQLite): POST /hooks -> 202", hooks_embedded, floor)

    # -- PostgreSQL + Redis -----------------------------------------------------------------
    with database() as url:
        queue = f"bench{secrets.token_hex(4)}"
        client = rt.connect(url, home=tmp / "pg", redis_url=REDIS, queue=queue)
        hooks_pg = hook_times(client)
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id serial PRIMARY KEY, v text)")
            floor_pg = timed(lambda i: conn.execute("INSERT INTO t (v) VALUES (%s)", (str(i),)))
        r = redis.Redis.from_url(REDIS)
        floor_redis = timed(lambda i: r.xadd(f"{queue}-floor", {"n": i}))
        r.delete(f"{queue}-floor", queue)
        floor = [a + b + c for a, b, c in zip(floor_http, floor_pg, floor_redis, strict=True)]
        row("floor: + one raw PG INSERT + one Redis XADD", floor)
        row("PostgreSQL + Redis: POST /hooks -> 202", hooks_pg, floor)

        # -- admission overhead -------------------------------------------------------------
        store = client.store
        free = store.publish("bench_free", "v1", {"name": "bench_free", "nodes": []}, b"")
        capped = store.publish("bench_capped", "v1", {"name": "bench_capped", "nodes": []}, b"")
        store.set_run_limit("bench_capped", 1_000_000)

        def start(version: object) -> Callable[[int], object]:
            def once(i: int) -> None:
                record, _ = store.create_run(
                    version,  # type: ignore[arg-type]
                    {},
                    trigger="sdk",
                    owner=None,
                    inline_limit=16_384,
                )
                assert store.acquire(record.id, "bench", 30) is not None

            return once

        unlimited = timed(start(free))
        limited = timed(start(capped))
        row("run start (create_run + acquire), no limit", unlimited)
        row("run start with max_concurrent_runs", limited, unlimited)
        extra = (statistics.median(limited) - statistics.median(unlimited)) * 1000
        print(f"  admission overhead per run start (p50)        {extra:7.2f}")
        client.close()
        client_module._default = None


if __name__ == "__main__":
    main()
