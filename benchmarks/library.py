"""Node library benchmark: the ``http`` node's overhead against a bare httpx call to the same
local server (the node's own code alone, and a whole run of a one-node graph on SQLite), and
how long rendering a template expression takes.

    uv run python benchmarks/library.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import httpx

import runtime as rt
from runtime.nodes.expressions import evaluate
from runtime.nodes.library import execute


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"items": [1, 2, 3]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def p50_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def bare() -> None:
        with httpx.Client() as c:
            c.get(base + "/items").json()

    options = {"url": "{{ inputs.base }}/items", "method": "GET"}
    ctx = {"inputs": {"base": base}, "nodes": {}}

    def node_code() -> None:
        execute("http", "fetch", options, None, ctx, {"base": base})

    shared = httpx.Client()
    print(f"bare httpx GET (new client each): p50 {p50_ms(bare, 200):.2f} ms")
    print(f"bare httpx GET (one client): p50 {p50_ms(lambda: shared.get(base).json(), 200):.2f} ms")
    print(f"http node code (render + request + output): p50 {p50_ms(node_code, 200):.2f} ms")
    text = "Hello {{ inputs.name }}, {{ nodes.fetch.output.json['items'] | length }} items"
    tctx = {"inputs": {"name": "Ada"}, "nodes": {"fetch": {"output": {"json": {"items": [1]}}}}}
    rendering = p50_ms(lambda: evaluate("t", "template", text, "text", tctx), 2000)
    print(f"template rendering (compiled once): p50 {rendering:.3f} ms")

    home = Path(tempfile.mkdtemp())
    rt.connect(f"sqlite:///{home}/plait.db", home=home)
    g = rt.Graph("http_bench")
    g.add("fetch", rt.nodes.http(url="{{ inputs.base }}/items"))
    whole = p50_ms(lambda: g.run(base=base).wait(30), 20)
    print(f"a run of a one-http-node graph (SQLite): p50 {whole:.1f} ms")
    server.shutdown()


if __name__ == "__main__":
    main()
