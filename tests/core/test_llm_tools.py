"""The ``llm`` node's tools: a bounded tool-calling loop through the real engine, each
model turn and tool result journaled so that an attempt after a kill mid-loop replays them
instead of calling the model or a tool again; token usage summed over the turns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool

import runtime as rt
from tests.core.llm_tool_models import OFFERED, ScriptedToolModel

CALLS: list[str] = []


def add(a: int, b: int) -> int:
    """Adds two integers."""
    CALLS.append(f"add:{a}:{b}")
    return a + b


@tool
def shout(text: str) -> str:
    """Upper-cases a text."""
    CALLS.append(f"shout:{text}")
    return text.upper()


def test_the_tool_loop_answers_with_the_tools_results(client: rt.Client) -> None:
    CALLS.clear()
    OFFERED.clear()
    model = ScriptedToolModel(
        script=[
            {"calls": [("add", {"a": 2, "b": 3}), ("shout", {"text": "hi"})]},
            {"calls": [("add", {"a": 5, "b": 5})]},
            {"say": "results {tool_results}"},
        ]
    )
    g = rt.Graph("llm_tools")
    g.add("answer", rt.nodes.llm(model, "Work on {{ inputs.task }}", tools=[add, shout]))
    run = g.run(task="sums").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("answer") == "results 5,HI,10"
    assert CALLS == ["add:2:3", "shout:hi", "add:5:5"]
    assert OFFERED == [["add", "shout"]] * 2  # bound with bind_tools, as a real model is
    usage = run.token_usage
    assert len(usage["nodes"]["answer"]["calls"]) == 3
    assert usage["total_tokens"] == 36 and usage["input_tokens"] == 30
    assert "30 input + 6 output tokens in 3 calls" in (run.nodes["answer"].logs or "")
    journal = next(d.value for d in run.documents if d.name == "tool_journal")
    assert [s["type"] for s in journal["steps"]] == ["ai", "tool", "tool", "ai", "tool", "ai"]


def test_too_many_model_turns_fail_the_node_naming_max_steps(sqlite_client: rt.Client) -> None:
    CALLS.clear()
    model = ScriptedToolModel(script=[{"calls": [("add", {"a": 1, "b": 1})]}])  # never done
    g = rt.Graph("llm_tools_forever")
    g.add("answer", rt.nodes.llm(model, "Loop", tools=[add], max_steps=3))
    run = g.run().wait(60)
    assert run.status == "failed"
    error = run.nodes["answer"].error or ""
    assert "max_steps=3 model turns without a final answer" in error
    assert CALLS == ["add:1:1"] * 3


def test_an_unknown_tool_is_told_to_the_model(sqlite_client: rt.Client) -> None:
    model = ScriptedToolModel(
        script=[
            {"calls": [("add", {"a": 1, "b": 2}), ("nope", {})]},
            {"say": "got {tool_results}"},
        ]
    )
    g = rt.Graph("llm_tools_unknown")
    g.add("answer", rt.nodes.llm(model, "x", tools=[add]))
    run = g.run().wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("answer") == "got 3,error: there is no tool 'nope' (tools: add)"


def test_bad_tools_are_refused_when_built() -> None:
    model = ScriptedToolModel(script=[{"say": "x"}])
    with pytest.raises(rt.GraphError, match=r"tools\[0\] is a lambda"):
        rt.nodes.llm(model, "x", tools=[lambda a: a])
    with pytest.raises(rt.GraphError, match=r"tools\[1\] is a int"):
        rt.nodes.llm(model, "x", tools=[add, 3])
    with pytest.raises(rt.GraphError, match="two tools are named 'add'"):
        rt.nodes.llm(model, "x", tools=[add, add])
    with pytest.raises(rt.GraphError, match="max_steps"):
        rt.nodes.llm(model, "x", tools=[add], max_steps=0)


KILLED = textwrap.dedent(
    """
    import os
    import sys
    import threading
    from pathlib import Path
    import runtime as rt
    from tests.core.llm_tool_models import ScriptedToolModel

    effects = Path(os.environ["EFFECTS"])

    def record(line: str) -> None:
        with effects.open("a") as f:
            f.write(f"{line}:{rt.current().attempt}\\n")

    class Recording(ScriptedToolModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            turn = sum(1 for m in messages if m.type == "ai")
            record(f"model:{turn}")
            if turn == 2 and rt.current().attempt == 1:
                (effects.parent / "last-turn").touch()
                threading.Event().wait()   # the process is killed here
            return super()._generate(messages, stop, run_manager, **kwargs)

    def lookup(q: str) -> str:
        \"\"\"Looks a word up.\"\"\"
        record(f"lookup:{q}")
        return q * 2

    model = Recording(script=[
        {"calls": [["lookup", {"q": "a"}]]},
        {"calls": [["lookup", {"q": "b"}]]},
        {"say": "found {tool_results}"},
    ])
    g = rt.Graph("llm_tools_killed")
    g.add("answer", rt.nodes.llm(model, "Find {{ inputs.what }}", tools=[lookup]))
    run = g.run(what="words")
    print(run.id, flush=True)
    run.wait()
    """
)


def _await(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_kill_mid_loop_does_not_repeat_completed_tool_calls(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    effects = tmp_path / "effects.txt"
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(tmp_path),
        "EFFECTS": str(effects),
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
    before = effects.read_text().split()
    assert before == ["model:0:1", "lookup:a:1", "model:1:1", "lookup:b:1", "model:2:1"]

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

    # the second attempt replayed both tool calls and the turns before them: only the turn
    # under way at the kill was made again
    assert effects.read_text().split() == [*before, "model:2:2"]
    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        assert run.output("answer") == "found aa,bb"
        assert run.nodes["answer"].attempts == 2
        assert run.token_usage["total_tokens"] == 36  # the replayed turns' tokens were spent
        assert "replayed 2 model turn(s)" in (run.nodes["answer"].logs or "")
    finally:
        client.close()


class FailsOnce(ScriptedToolModel):
    """Its third turn raises in the node's first attempt (a provider's error)."""

    effects: str

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        turn = sum(1 for m in messages if m.type == "ai")
        with open(self.effects, "a") as f:
            f.write(f"model:{turn}:{rt.current().attempt}\n")
        if turn == 2 and rt.current().attempt == 1:
            raise ConnectionError("provider hung up")
        return super()._generate(messages, stop, run_manager, **kw)


def looked_up(effects: str) -> Any:
    def lookup(q: str) -> str:
        """Looks a word up."""
        with open(effects, "a") as f:
            f.write(f"lookup:{q}:{rt.current().attempt}\n")
        return q * 2

    return lookup


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_retry_replays_the_journal_also_in_a_child_process(
    sqlite_client: rt.Client, tmp_path: Path, isolation: str
) -> None:
    effects = tmp_path / "effects.txt"
    model = FailsOnce(
        effects=str(effects),
        script=[
            {"calls": [("lookup", {"q": "a"})]},
            {"calls": [("lookup", {"q": "b"})]},
            {"say": "found {tool_results}"},
        ],
    )
    g = rt.Graph(f"llm_tools_retry_{isolation}")
    g.add(
        "answer",
        rt.nodes.llm(model, "Find", tools=[looked_up(str(effects))]),
        retries=1,
        isolation=isolation,
    )
    run = g.run().wait(120)
    assert run.status == "succeeded", run.error
    assert run.output("answer") == "found aa,bb"
    assert effects.read_text().split() == [
        "model:0:1",
        "lookup:a:1",
        "model:1:1",
        "lookup:b:1",
        "model:2:1",
        "model:2:2",
    ]
