"""The ``llm`` node from a stored spec: other nodes as its tools (``rt.nodes.tool``), tools
named in the spec (a node tool's config, a Python tool's registered name or import path),
``"provider:model"`` strings resolved where the node runs with the API key from the secret
store, and the ``approval`` kind rebuilt from JSON. Real engine, real store, real local HTTP
servers; the models are LangChain chat models through the real code path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool

import runtime as rt
from runtime import drafts, secrets
from runtime.nodes import tools as tools_module
from tests.core.llm_tool_models import ScriptedToolModel
from tests.core.test_http_node import Server
from tests.core.test_llm_tools import _await

KEY = "sk-test-very-secret-0042"
CALLS: list[str] = []


def _scripted(name: str, **options: Any) -> ScriptedToolModel:
    """The ``scripted:`` provider: its script comes from the node's ``model_options``."""
    return ScriptedToolModel(**options)


rt.nodes.register_provider("scripted", _scripted)


def lookup(q: str) -> str:
    """Looks a word up."""
    CALLS.append(f"lookup:{q}")
    return q * 2


@tool
def shout(text: str) -> str:
    """Upper-cases a text."""
    CALLS.append(f"shout:{text}")
    return text.upper()


rt.nodes.register_tool("shout_it", shout)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def _script(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"script": list(steps)}


def test_other_nodes_are_tools_run_with_the_models_arguments(
    sqlite_client: rt.Client, server: Server
) -> None:
    CALLS.clear()
    g = rt.Graph("llm_node_tools")
    g.add(
        "answer",
        rt.nodes.llm(
            "scripted:any",
            "Count the items at {{ inputs.base }}",
            model_options=_script(
                {"calls": [["fetch", {"base": server.base}], ["greet", {"who": "ada"}]]},
                {"calls": [["double", {"n": 21}], ["word", {"q": "ab"}]]},
                {"say": "got {tool_results}"},
            ),
            tools=[
                rt.nodes.tool(
                    "fetch", rt.nodes.http(url="{{ inputs.base }}/items"), description="GET items"
                ),
                rt.nodes.tool("greet", rt.nodes.template(template="Hello {{ inputs.who }}")),
                rt.nodes.tool("double", rt.nodes.code(source="def main(n):\n    return n * 2")),
                rt.nodes.tool("word", lookup, description="A word, doubled"),
            ],
        ),
    )
    assert g.spec()["inputs"] == {"base": {"required": True}}  # the prompt's, not the tools'
    run = g.run(base=server.base).wait(60)
    assert run.status == "succeeded", run.error
    results = run.output("answer").removeprefix("got ").split(",", 1)[1]
    fetched = json.loads(run.output("answer").removeprefix("got ").split(",Hello")[0])
    assert fetched["status"] == 200 and fetched["json"] == {"items": [1, 2, 3]}
    assert results.endswith("Hello ada,42,abab")
    assert len(server.hits["/items"]) == 1
    assert CALLS == ["lookup:ab"]
    journal = next(d.value for d in run.documents if d.name == "tool_journal")
    assert [s["data"].get("name") for s in journal["steps"] if s["type"] == "tool"] == [
        "fetch",
        "greet",
        "double",
        "word",
    ]


class FailsOnce(ScriptedToolModel):
    """Its last turn raises in the node's first attempt (a provider's error)."""

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        if sum(1 for m in messages if m.type == "ai") == 1 and rt.current().attempt == 1:
            raise ConnectionError("provider hung up")
        return super()._generate(messages, stop, run_manager, **kw)


def test_a_node_tools_call_is_journaled_and_not_repeated_by_a_retry(
    sqlite_client: rt.Client, server: Server
) -> None:
    model = FailsOnce(
        script=[{"calls": [["fetch", {"base": server.base}]]}, {"say": "done"}],
    )
    g = rt.Graph("llm_node_tool_retry")
    g.add(
        "answer",
        rt.nodes.llm(
            model,
            "Go",
            tools=[rt.nodes.tool("fetch", rt.nodes.http(url="{{ inputs.base }}/items"))],
        ),
        retries=1,
    )
    run = g.run().wait(60)
    assert run.status == "succeeded", run.error
    assert run.nodes["answer"].attempts == 2
    assert len(server.hits["/items"]) == 1  # replayed from the journal, not fetched again


def test_an_llm_with_tools_publishes_and_rebuilds_from_its_stored_spec(
    sqlite_client: rt.Client, server: Server
) -> None:
    CALLS.clear()
    script = _script(
        {
            "calls": [
                ["fetch", {"base": server.base}],
                ["lookup", {"q": "x"}],
                ["loud", {"text": "hey"}],
            ]
        },
        {"say": "{tool_results}"},
    )
    g = rt.Graph("llm_spec_tools")
    g.add("topic", rt.nodes.template(template="about {{ inputs.t }}"))
    g.add(
        "answer",
        rt.nodes.llm(
            "scripted:any",
            "Tell me {{ nodes.topic.output }}",
            model_options=script,
            tools=[
                rt.nodes.tool("fetch", rt.nodes.http(url="{{ inputs.base }}/items")),
                lookup,  # by import path
                rt.nodes.tool("loud", shout),  # by its registered name
            ],
        ),
    )
    version = sqlite_client.publish(g)
    tools = next(n for n in version.spec["nodes"] if n["name"] == "answer")["options"]["tools"]
    assert [{k: v for k, v in t.items() if v} for t in tools] == [
        {"name": "fetch", "node": {"kind": "http", "options": {"url": "{{ inputs.base }}/items"}}},
        {"name": "lookup", "ref": "tests.core.test_llm_spec:lookup"},
        {"name": "loud", "ref": "shout_it"},
    ]

    with pytest.raises(rt.GraphError, match=r"tool 'lookup': '.*:lookup' is an import path"):
        rt.Graph.from_spec(version.spec)  # a spec never makes the host import code
    if "lookup" not in tools_module._registered:
        rt.nodes.register_tool("lookup", lookup)
    rebuilt = rt.Graph.from_spec(version.spec)
    assert rebuilt.spec() == version.spec
    assert rebuilt.nodes["answer"].target is None  # nothing but JSON
    run = rebuilt.run(t="cats").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("answer").endswith(",xx,HEY")
    assert CALLS == ["lookup:x", "shout:hey"]


def test_a_spec_naming_a_tool_that_cannot_be_found_is_refused_naming_it(
    sqlite_client: rt.Client,
) -> None:
    def local(q: str) -> str:
        """A closure's tool: no import path."""
        return q

    g = rt.Graph("llm_spec_unresolved")
    script = _script({"calls": [["local", {"q": "a"}]]}, {"say": "{tool_results}"})
    g.add("answer", rt.nodes.llm("scripted:any", "x", model_options=script, tools=[local]))
    spec = g.spec()
    first = g.run().wait(60)
    assert first.status == "succeeded", first.error  # held by the graph's code, it runs
    assert first.output("answer") == "a"
    with pytest.raises(rt.GraphError, match=r"tool 'local' is a Python object with no regis"):
        rt.Graph.from_spec(spec)

    options = {"model": "scripted:any", "prompt": "x"}
    for ref, problem in [
        ("tests.core.nope:f", "'tests.core.nope:f' is an import path, and a graph rebuilt"),
        ("never_registered", "no tool is registered as 'never_registered'"),
    ]:
        with pytest.raises(rt.GraphError, match=f"llm node 'a': tool 't': {problem}"):
            rt.Graph("g").add_node(
                "a", "llm", options={**options, "tools": [{"name": "t", "ref": ref}]}
            )
    with pytest.raises(rt.GraphError, match="tool 't': an approval node cannot be a tool"):
        rt.Graph("g").add_node(
            "a", "llm", options={**options, "tools": [{"name": "t", "node": {"kind": "approval"}}]}
        )
    with pytest.raises(rt.GraphError, match=r"tool 't': its options name node.*'up'"):
        rt.nodes.llm(
            "scripted:any",
            "x",
            tools=[rt.nodes.tool("t", rt.nodes.template(template="{{ nodes.up.output }}"))],
        ).add_to(rt.Graph("g"), "a")
    with pytest.raises(rt.GraphError, match=r"tools\[0\] is a http node: name it"):
        rt.nodes.llm("scripted:any", "x", tools=[rt.nodes.http(url="http://x")])
    code_rebuilt = {"name": "g", "nodes": [{"name": "f", "kind": "function", "inputs": {}}]}
    with pytest.raises(rt.GraphError, match="node 'f' is a function node: it runs Python code"):
        rt.Graph.from_spec(code_rebuilt)


def test_an_http_tools_secret_is_declared_for_the_llm_node(
    sqlite_client: rt.Client, server: Server
) -> None:
    token = "tok-tool-secret-77"
    secrets.Secrets(sqlite_client.store, sqlite_client.settings).set("TOOL_TOKEN", token, by=None)
    fetch = rt.nodes.http(
        url="{{ inputs.base }}/echo", auth={"type": "bearer", "secret": "TOOL_TOKEN"}
    )
    g = rt.Graph("llm_tool_secret")
    g.add(
        "answer",
        rt.nodes.llm(
            "scripted:any",
            "x",
            model_options=_script({"calls": [["fetch", {"base": server.base}]]}, {"say": "ok"}),
            tools=[rt.nodes.tool("fetch", fetch)],
        ),
    )
    assert g.nodes["answer"].secrets == ("TOOL_TOKEN",)
    run = g.run().wait(60)
    assert run.status == "succeeded", run.error
    assert [r["headers"].get("Authorization") for r in server.seen] == [f"Bearer {token}"]
    journal = next(d.value for d in run.documents if d.name == "tool_journal")
    assert token not in json.dumps(journal)  # the echoed header is hidden in the journal
    assert token not in (run.nodes["answer"].logs or "")


KILLED = textwrap.dedent(
    """
    import os
    import threading
    from pathlib import Path
    import runtime as rt
    from tests.core.llm_tool_models import ScriptedToolModel

    marks = Path(os.environ["MARKS"])

    class Stalls(ScriptedToolModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            if sum(1 for m in messages if m.type == "ai") == 2 and rt.current().attempt == 1:
                (marks / "last-turn").touch()
                threading.Event().wait()   # the process is killed here
            return super()._generate(messages, stop, run_manager, **kwargs)

    base = os.environ["BASE"]
    model = Stalls(script=[
        {"calls": [["fetch", {"base": base}]]},
        {"calls": [["fetch", {"base": base}]]},
        {"say": "fetched twice"},
    ])
    g = rt.Graph("llm_node_tool_killed")
    fetch = rt.nodes.tool("fetch", rt.nodes.http(url="{{ inputs.base }}/items"))
    g.add("answer", rt.nodes.llm(model, "Fetch", tools=[fetch]))
    run = g.run()
    print(run.id, flush=True)
    run.wait()
    """
)


def test_a_kill_mid_loop_does_not_repeat_a_node_tools_request(
    tmp_path: Path, server: Server
) -> None:
    db_url = f"sqlite:///{tmp_path / 'plait.db'}"  # one store: the loop is the same on both
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(tmp_path),
        "MARKS": str(tmp_path),
        "BASE": server.base,
        "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    _await(lambda: (tmp_path / "last-turn").exists())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert len(server.hits["/items"]) == 2

    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert f"run {run_id}: succeeded" in recovered.stdout
    assert len(server.hits["/items"]) == 2  # both requests replayed from the journal
    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        assert run.output("answer") == "fetched twice"
        assert run.nodes["answer"].attempts == 2
    finally:
        client.close()


class OpenAiLike:
    """A local server answering OpenAI's chat completions API, recording what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
                question = body["messages"][-1]["content"]
                answer = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": f"echo: {question}"},
                        }
                    ],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_provider_string_is_resolved_with_init_chat_model_and_a_stored_key(
    sqlite_client: rt.Client,
) -> None:
    provider = OpenAiLike()
    try:
        secrets.Secrets(sqlite_client.store, sqlite_client.settings).set("OPENAI_KEY", KEY, by=None)
        g = rt.Graph("llm_provider_string")
        g.add(
            "answer",
            rt.nodes.llm(
                "openai:gpt-4o-mini",
                "Hi {{ inputs.name }}",
                api_key_secret="OPENAI_KEY",
                model_options={"base_url": provider.base, "max_retries": 0},
                stream=False,
            ),
        )
        assert g.nodes["answer"].secrets == ("OPENAI_KEY",)
        run = g.run(name="ada").wait(60)
        assert run.status == "succeeded", run.error
        assert run.output("answer") == "echo: Hi ada"
        (sent,) = provider.seen
        assert sent["path"] == "/v1/chat/completions"
        assert sent["body"]["model"] == "gpt-4o-mini"
        assert {k.lower(): v for k, v in sent["headers"].items()}[
            "authorization"
        ] == f"Bearer {KEY}"
        assert run.token_usage["total_tokens"] == 10
        shown = json.dumps(
            [run.spec, run.nodes["answer"].logs, [d.value for d in run.documents]], default=str
        )
        assert KEY not in shown
        assert "gpt-4o-mini" in (run.nodes["answer"].logs or "")
    finally:
        provider.stop()


def test_a_provider_without_its_package_fails_naming_the_package(
    sqlite_client: rt.Client,
) -> None:
    g = rt.Graph("llm_provider_missing")
    g.add("answer", rt.nodes.llm("anthropic:claude-x", "Hi"))
    run = g.run().wait(60)
    assert run.status == "failed"
    error = run.nodes["answer"].error or ""
    assert "model 'anthropic:claude-x' needs the provider's package" in error
    assert "langchain-anthropic" in error or "langchain_anthropic" in error

    g = rt.Graph("llm_provider_unknown")
    g.add("answer", rt.nodes.llm("nosuch:model", "Hi"))
    run = g.run().wait(60)
    assert "model 'nosuch:model'" in (run.nodes["answer"].error or "")
    assert "registered here: " in (run.nodes["answer"].error or "")
    with pytest.raises(rt.GraphError, match='is no "provider:model" string'):
        rt.Graph("g").add("a", rt.nodes.llm("openai:", "x"))
    with pytest.raises(rt.GraphError, match="api_key in clear"):
        rt.nodes.llm("openai:gpt-4o-mini", "x", model_options={"api_key": KEY})


def test_an_approval_from_a_stored_spec_runs_and_is_answered(
    sqlite_client: rt.Client, tmp_path: Path
) -> None:
    g = rt.Graph("approval_spec")
    g.add(
        "review",
        rt.nodes.approval(
            ["ada", "bob"], deadline=3600, description="Ship it?", require_comment=True
        ),
    )
    g.add(
        "verdict",
        rt.nodes.template(
            template="{{ nodes.review.output.approver }}: {{ nodes.review.output.comment }}"
        ),
    )
    version = sqlite_client.publish(g)
    entry = next(n for n in version.spec["nodes"] if n["name"] == "review")
    assert entry["kind"] == "approval"
    assert entry["options"]["approvers"] == ["ada", "bob"]
    assert entry["options"]["deadline"] == 3600

    rebuilt = rt.Graph.from_spec(version.spec)
    assert rebuilt.spec() == version.spec
    run = rebuilt.run().wait(30)
    assert run.status == "waiting"
    asked = run.waiting["review"]
    assert set(asked["properties"]) == {"approved", "approver", "comment"}
    assert asked["required"] == ["approved", "comment"]
    with pytest.raises(Exception, match="approver"):
        run.resume("review", {"approved": True, "approver": "eve", "comment": "ok"})
    with pytest.raises(Exception, match="comment"):
        run.resume("review", {"approved": True, "approver": "ada"})
    run.resume("review", {"approved": True, "approver": "ada", "comment": "ship"})
    run = run.wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("review") == {"approved": True, "approver": "ada", "comment": "ship"}
    assert run.output("verdict") == "ada: ship"

    # by kind name and JSON options, as the studio's builder adds it
    built = rt.Graph("approval_by_kind")
    built.add_node("review", "approval", options={"approvers": ["ada"], "on_deadline": "fail"})
    with pytest.raises(rt.GraphError, match="approvers"):
        rt.Graph("g").add_node("r", "approval", options={"approvers": []})
    with pytest.raises(rt.GraphError, match="on_deadline"):
        rt.nodes.approval(on_deadline="later")  # type: ignore[arg-type]


def test_a_draft_naming_a_host_function_as_a_tool_imports_and_runs_nothing() -> None:
    """A draft or an imported file is JSON anyone with the editor role writes: a tool ref
    naming a module must not import it (its import would run code) nor bind its functions."""
    assert "this" not in sys.modules  # the stdlib module that prints as it is imported
    draft = {
        "name": "sneaky",
        "nodes": [
            {
                "name": "a",
                "kind": "llm",
                "options": {
                    "model": "scripted:any",
                    "prompt": "x",
                    "tools": [
                        {"name": "zen", "ref": "this:s"},
                        {"name": "sh", "ref": "subprocess:getoutput"},
                    ],
                },
            }
        ],
    }
    problems = [str(p) for p in drafts.validate(draft)]
    assert any("'this:s' is an import path" in p for p in problems), problems
    assert "this" not in sys.modules
