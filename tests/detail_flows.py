"""A run with the library nodes whose details the views show: an http node against a local
server that answers 503 once (so one retry) and takes a secret query value, a code node that
prints to stdout and stderr, an llm node on a fake chat model that reports its usage."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

import runtime as rt

API_KEY = "k-0123456789-very-secret"
STDOUT = "counted 3 items"
STDERR = "a warning on stderr"


class UsageModel(GenericFakeChatModel):
    """Streams like the fake model and reports usage on its last chunk, as providers do."""

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        yield from super()._stream(messages, *args, **kwargs)
        usage = {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))  # type: ignore[arg-type]


class FlakyServer:
    """``/items`` answers 503 to its first request, then ``{"items": [1, 2, 3]}``."""

    def __init__(self) -> None:
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.hits += 1
                status, body = (503, b"{}") if server.hits == 1 else (200, b'{"items": [1, 2, 3]}')
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def graph() -> rt.Graph:
    g = rt.Graph("node_details_demo")
    g.add(
        "fetch",
        rt.nodes.http(url="{{ inputs.base }}/items", query={"api_key": API_KEY}, backoff=0),
    )
    g.add(
        "clean",
        rt.nodes.code(
            source=(
                "import sys\n"
                "def main(fetch):\n"
                f"    print({STDOUT!r})\n"
                f"    print({STDERR!r}, file=sys.stderr)\n"
                "    return len(fetch['json']['items'])"
            )
        ),
    )
    g.add(
        "answer",
        rt.nodes.llm(
            model=UsageModel(messages=iter([AIMessage(content="three items")])),
            prompt="How many? {{ nodes.clean.output }}",
        ),
    )
    return g


def body_size() -> int:
    return len(json.dumps({"items": [1, 2, 3]}))
