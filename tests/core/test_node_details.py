"""The details the views show of library nodes, recorded by real runs and read back with
``runtime.details``: an http node's request summary against a local server (retries,
failures, a secret query value hidden), a code node's stdout and stderr in its sandbox (also
when it fails or times out, the end of a long stream kept, redacted), and token usage of an
llm node on a fake chat model, per node and per run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

import runtime as rt
from runtime import details
from runtime.nodes.http import HIDDEN
from tests.core.test_http_node import Server
from tests.faults.servers import free_port

API_KEY = "k-0123456789-very-secret"


class UsageModel(GenericFakeChatModel):
    """Streams like the fake model and reports usage on its last chunk, as providers do."""

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        yield from super()._stream(messages, *args, **kwargs)
        usage = {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def test_http_code_and_llm_details_are_recorded_per_node_and_summed_per_run(
    client: rt.Client, server: Server
) -> None:
    g = rt.Graph("details_all")
    g.add(
        "fetch",
        rt.nodes.http(
            url="{{ inputs.base }}/flaky",
            query={"q": "x y", "api_key": API_KEY},
            backoff=0,
        ),
    )
    g.add(
        "clean",
        rt.nodes.code(
            source=(
                "def main(fetch):\n"
                "    print('status', fetch['status'])\n"
                "    import sys; print('password=hunter2 careful', file=sys.stderr)\n"
                "    return fetch['json']['attempts']"
            )
        ),
    )
    g.add(
        "answer",
        rt.nodes.llm(
            model=UsageModel(messages=iter([AIMessage(content="two tries")])),
            prompt="Say {{ nodes.clean.output }}",
        ),
    )
    run = g.run(base=server.base).wait(60)
    assert run.status == "succeeded", run.error

    found = details.run_details(run)
    assert set(found.nodes) == {"fetch", "clean", "answer"}
    http = found.nodes["fetch"].http
    assert http is not None
    assert http.method == "GET" and http.status == 200 and http.retries == 1
    assert [t.status for t in http.tries] == [503, 200]
    body = json.dumps({"ok": True, "attempts": 2}).encode()
    assert http.size == len(body) and http.tries[0].size == len(json.dumps({"error": "busy"}))
    assert http.elapsed_ms is not None and http.elapsed_ms >= 0
    assert http.url.startswith(server.base + "/flaky?")
    assert http.url == f"{server.base}/flaky?q=x+y&api_key={HIDDEN}"
    assert server.seen[0]["path"] == f"/flaky?q=x+y&api_key={API_KEY}"  # sent, not shown
    assert http.attempt == 1 and http.error == ""
    stored = next(d.value for d in run.documents if d.name == "http_request")
    assert API_KEY not in json.dumps(stored)  # not kept, not only not shown

    code = found.nodes["clean"].code
    assert code is not None
    assert code.stdout == "status 200\n"
    assert "careful" in code.stderr and "hunter2" not in code.stderr
    assert code.error == "" and code.attempt == 1
    assert code.elapsed_ms is not None and code.elapsed_ms > 0

    usage = found.nodes["answer"].usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (11, 4, 15)
    assert usage.reported and usage.attempt == 1 and len(usage.calls) == 1
    assert found.usage == details.RunUsage(11, 4, 15, nodes=1, calls=1)
    assert details.usage_line(usage) == "11 input + 4 output = 15 tokens"
    assert found.usage.total_tokens == run.token_usage["total_tokens"]
    line = details.http_line(http)
    assert line.startswith("GET ") and "→ 200 in" in line and line.endswith("bytes, 1 retry")


def test_failed_requests_keep_their_summary(client: rt.Client, server: Server) -> None:
    g = rt.Graph("details_http_failures")
    g.add("down", rt.nodes.http(url=server.base + "/down", retries=2, backoff=0))
    g.add("nowhere", rt.nodes.http(url=f"http://127.0.0.1:{free_port()}/x", retries=1, backoff=0))
    run = g.run().wait(60)
    assert run.status == "failed"
    found = details.run_details(run)
    down = found.nodes["down"].http
    assert down is not None
    assert down.status == 500 and down.retries == 2 and len(down.tries) == 3
    assert "answered 500" in down.error
    nowhere = found.nodes["nowhere"].http
    assert nowhere is not None
    assert nowhere.status is None and nowhere.size is None and nowhere.retries == 1
    assert [t.error for t in nowhere.tries] == ["ConnectError", "ConnectError"]
    assert "ConnectError" in nowhere.error
    assert details.http_line(nowhere).endswith(
        "→ no answer in " + f"{nowhere.elapsed_ms:g} ms, 1 retry"
    )


def test_code_output_is_kept_when_it_fails_times_out_or_overflows(client: rt.Client) -> None:
    g = rt.Graph("details_code_failures")
    g.add(
        "broken",
        rt.nodes.code(source="def main():\n    print('before the fall')\n    return 1 / 0\n"),
        retries=1,
        backoff=0,
    )
    g.add(
        "spin",
        rt.nodes.code(
            source=(
                "import sys\n"
                "def main():\n"
                "    print('working', flush=True)\n"
                "    print('still here', file=sys.stderr, flush=True)\n"
                "    while True:\n"
                "        pass\n"
            ),
            timeout=1,
        ),
    )
    g.add(
        "chatty",
        rt.nodes.code(
            source="def main():\n    print('y' * 5000)\n    print('THE END')\n    return 1",
            max_output_kb=1,
        ),
    )
    run = g.run().wait(60)
    assert run.status == "failed"
    found = details.run_details(run)

    broken = found.nodes["broken"].code
    assert broken is not None
    assert broken.stdout == "before the fall\n"
    assert broken.error == "ZeroDivisionError: division by zero"
    assert broken.attempt == 2  # the retry's, not the first attempt's
    assert run.nodes["broken"].attempts == 2

    spin = found.nodes["spin"].code
    assert spin is not None
    assert spin.stdout == "working\n"
    assert spin.stderr == "still here\n"  # not the lines unshare prints as it is killed
    assert "timed out after 1 s" in spin.error

    chatty = found.nodes["chatty"].code
    assert chatty is not None
    assert chatty.stdout.endswith("THE END\n")  # the end is kept: where failures say why
    assert chatty.stdout.startswith("[... ") and "bytes of output left out]" in chatty.stdout
    assert len(chatty.stdout) < 1100


def test_a_function_nodes_own_stdout_document_is_no_code_detail(client: rt.Client) -> None:
    g = rt.Graph("details_plain")

    @g.node()
    def plain() -> int:
        rt.current().save_document("stdout", "mine", "text")
        return 1

    run = g.run().wait(60)
    assert run.status == "succeeded", run.error
    assert details.run_details(run).nodes == {}
    assert not details.shown_as_details("function", "stdout")
    assert details.shown_as_details("code", "stdout")


def test_the_summary_url_hides_a_password_and_secret_query_values() -> None:
    from runtime.nodes.http import _summary_url

    url = _summary_url("https://ada:pw-1234@api.example/v1?token=abc&page=2", {"apiKey": "z"})
    assert url == f"https://ada:{HIDDEN}@api.example/v1?token={HIDDEN}&page=2&apiKey={HIDDEN}"
    assert _summary_url("http://h/x", {"q": "a b&c"}) == "http://h/x?q=a+b%26c"
