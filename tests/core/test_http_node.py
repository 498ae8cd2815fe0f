"""The ``http`` library node against a real HTTP server on localhost, run by the engine:
expressions in the URL, headers and body; retries on 503 and 429 honouring ``Retry-After``;
timeouts; auth from a stored secret that never shows in logs, errors or outputs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import runtime as rt
from runtime import secrets

TOKEN = "tok-very-secret-42"


class Server:
    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = {}
        self.seen: list[dict] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: object, **headers: str) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
                self.send_header("Content-Type", kind)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                path = self.path.split("?")[0]
                hits = server.hits.setdefault(path, [])
                hits.append(time.monotonic())
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                server.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if path == "/items":
                    self._answer(200, {"items": [1, 2, 3]})
                elif path == "/flaky" and len(hits) == 1:
                    self._answer(503, {"error": "busy"}, Retry_After="1")
                elif path == "/limited" and len(hits) < 3:
                    self._answer(429, {"error": "slow down"}, Retry_After="0")
                elif path in ("/flaky", "/limited"):
                    self._answer(200, {"ok": True, "attempts": len(hits)})
                elif path == "/down":
                    self._answer(500, {"error": "broken"})
                elif path == "/slow":
                    server.release.wait(10)
                    self._answer(200, {"late": True})
                elif path == "/echo":
                    self._answer(200, {"body": body, "auth": self.headers.get("Authorization")})
                elif path == "/bytes":
                    self._answer(200, b"\x00\x01binary")
                else:
                    self._answer(404, {"error": "no such path"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def test_get_with_expressions_and_a_post_with_a_json_body(
    client: rt.Client, server: Server
) -> None:
    g = rt.Graph("http_basic")
    g.add(
        "fetch",
        rt.nodes.http(method="GET", url="{{ inputs.base }}/items", query={"q": "{{ inputs.q }}"}),
    )
    g.add(
        "send",
        rt.nodes.http(
            method="POST",
            url="{{ inputs.base }}/echo",
            json={"count": "{{ nodes.fetch.output.json['items'] | length }}"},
            headers={"X-Trace": "t-{{ inputs.q }}"},
        ),
    )
    run = g.run(base=server.base, q="abc").wait(60)
    assert run.status == "succeeded", run.error
    fetched = run.output("fetch")
    assert fetched["status"] == 200 and fetched["json"] == {"items": [1, 2, 3]}
    assert fetched["size"] > 0 and fetched["elapsed_ms"] >= 0
    assert server.seen[0]["path"] == "/items?q=abc"
    assert json.loads(run.output("send")["json"]["body"]) == {"count": 3}  # its type kept
    assert server.seen[1]["headers"]["X-Trace"] == "t-abc"
    assert "GET http://127.0.0.1" in (run.nodes["fetch"].logs or "")


def test_retries_503_and_429_honouring_retry_after(
    sqlite_client: rt.Client, server: Server
) -> None:
    g = rt.Graph("http_retries")
    g.add("flaky", rt.nodes.http(url=server.base + "/flaky", backoff=0))
    g.add("limited", rt.nodes.http(url=server.base + "/limited", backoff=5))
    run = g.run().wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("flaky")["json"] == {"ok": True, "attempts": 2}
    first, second = server.hits["/flaky"]
    assert second - first >= 0.95  # Retry-After: 1, although backoff is 0
    assert run.output("limited")["json"] == {"ok": True, "attempts": 3}
    hits = server.hits["/limited"]
    assert hits[-1] - hits[0] < 2.5  # Retry-After: 0 beat a 5 s backoff


def test_5xx_after_retries_and_timeouts_fail_the_node(
    sqlite_client: rt.Client, server: Server
) -> None:
    g = rt.Graph("http_failures")
    g.add("down", rt.nodes.http(url=server.base + "/down", retries=2, backoff=0))
    g.add("slow", rt.nodes.http(url=server.base + "/slow", timeout=0.3, retries=1, backoff=0))
    g.add("missing", rt.nodes.http(url=server.base + "/nope", retries=3))
    run = g.run().wait(60)
    assert run.status == "failed"
    assert len(server.hits["/down"]) == 3
    assert "answered 500" in (run.nodes["down"].error or "")
    assert len(server.hits["/slow"]) == 2
    assert "ReadTimeout" in (run.nodes["slow"].error or "")
    assert len(server.hits["/nope"]) == 1  # a 404 is no reason to retry
    assert "answered 404" in (run.nodes["missing"].error or "")


def test_a_binary_body_is_content_bytes(sqlite_client: rt.Client, server: Server) -> None:
    g = rt.Graph("http_bytes")
    g.add("get", rt.nodes.http(url=server.base + "/bytes"))
    run = g.run().wait(60)
    assert run.output("get")["content"] == b"\x00\x01binary"


def test_auth_from_a_secret_is_sent_and_never_shown(
    sqlite_client: rt.Client, server: Server
) -> None:
    secrets.Secrets(sqlite_client.store, sqlite_client.settings).set("API_TOKEN", TOKEN, by=None)
    g = rt.Graph("http_auth")
    g.add(
        "call",
        rt.nodes.http(url=server.base + "/echo", auth={"type": "bearer", "secret": "API_TOKEN"}),
    )
    g.add("raw", rt.nodes.http(url=server.base + "/echo", method="POST", body="{{ inputs.b }}"))
    assert g.nodes["call"].secrets == ("API_TOKEN",)
    run = g.run(b="hello").wait(60)
    assert run.status == "succeeded", run.error
    sent = sorted(str(r["headers"].get("Authorization")) for r in server.seen)  # in any order
    assert sent == ["Bearer " + TOKEN, "None"]
    assert TOKEN not in json.dumps(run.output("call"), default=str)
    assert TOKEN not in (run.nodes["call"].logs or "")
    assert run.output("raw")["json"] == {"body": "hello", "auth": None}
    assert TOKEN not in json.dumps(run.spec)


def test_bad_http_options_are_refused_when_built() -> None:
    with pytest.raises(rt.GraphError, match=r"rt.nodes.http\(...\): method"):
        rt.nodes.http(url="http://x", method="FETCH")
    with pytest.raises(rt.GraphError, match="give one body"):
        rt.nodes.http(url="http://x", json={"a": 1}, body="b")
    with pytest.raises(rt.GraphError, match=r"node 'x': field headers.A: .*names token"):
        rt.Graph("h").add("x", rt.nodes.http(url="http://x", headers={"A": "{{ token }}"}))
