"""Graph building, validation messages, spec and version."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pydantic
import pytest
from langchain_core.prompts import ChatPromptTemplate

import runtime as rt
from tests.core import sample_dataflow


def diamond() -> rt.Graph:
    g = rt.Graph("diamond")

    @g.node
    def a(x: int = 1) -> int:
        return x + 1

    @g.node
    def b(a: int) -> int:
        return a * 2

    @g.node
    def c(a: int, factor: int) -> int:
        return a * factor

    @g.node
    def d(b: int, c: int) -> int:
        return b + c

    return g


def test_parameters_wire_edges_and_run_inputs() -> None:
    plan = diamond().plan
    assert plan.order == ("a", "b", "c", "d")
    assert plan.deps == {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
    assert set(plan.run_inputs) == {"x", "factor"}
    assert plan.sinks == ("d",)


def test_cycle_error_prints_the_path() -> None:
    g = rt.Graph("loop")
    g.add("a", lambda c: c)
    g.add("b", lambda a: a)
    g.add("c", lambda b: b)
    with pytest.raises(
        rt.GraphError, match=r"graph 'loop' has a cycle: (\w) -> (\w) -> (\w) -> \1"
    ):
        g.validate()


def test_duplicate_node_name() -> None:
    g = rt.Graph("dup")
    g.add("a", lambda: 1)
    with pytest.raises(rt.GraphError, match="duplicate node name 'a'"):
        g.add("a", lambda: 2)


def test_unknown_explicit_input_names_node_and_parameter() -> None:
    g = rt.Graph("explicit")
    with pytest.raises(rt.GraphError, match=r"node 'n': inputs names unknown parameter 'y'"):
        g.add("n", lambda x: x, inputs={"y": "x"})


def test_after_naming_unknown_node() -> None:
    g = rt.Graph("after")
    g.wait("approve", {"ok": bool}, after=["missing"])
    with pytest.raises(rt.GraphError, match=r"node 'approve': after='missing' names no node"):
        g.validate()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({}, "schema must be a pydantic model or a non-empty"),
        ({"ok": "yes"}, "field 'ok' has 'yes', which is not a type"),
        ({"1bad": int}, "field name '1bad' is not an identifier"),
        (42, "schema must be a pydantic model"),
    ],
)
def test_bad_wait_schema(schema: object, message: str) -> None:
    g = rt.Graph("waits")
    with pytest.raises(rt.GraphError, match=f"wait node 'w': {message}"):
        g.wait("w", schema)  # type: ignore[arg-type]


def test_node_policies_are_checked() -> None:
    g = rt.Graph("policies")
    with pytest.raises(rt.GraphError, match="node 'n': retries must be an int >= 0"):
        g.add("n", lambda: 1, retries=-1)
    with pytest.raises(rt.GraphError, match="node 'n': timeout must be > 0"):
        g.add("n", lambda: 1, timeout=0)


def test_missing_and_unexpected_run_inputs() -> None:
    g = diamond()
    with pytest.raises(rt.InputError, match="missing required input\\(s\\): factor"):
        g.check_inputs({})
    with pytest.raises(rt.InputError, match="unexpected input\\(s\\): nope"):
        g.check_inputs({"factor": 2, "nope": 1})


def test_spec_is_json_and_describes_nodes_edges_policies() -> None:
    g = diamond()
    g.add("slow", lambda d: d, retries=2, timeout=5.0)
    spec = json.loads(json.dumps(g.spec()))
    assert [n["name"] for n in spec["nodes"]] == ["a", "b", "c", "d", "slow"]
    assert ["b", "d"] in spec["edges"]
    assert spec["inputs"] == {"x": {"required": False, "default": 1}, "factor": {"required": True}}
    slow = spec["nodes"][-1]
    assert slow["policies"]["retries"] == 2 and slow["policies"]["timeout"] == 5.0
    assert spec["outputs"] == ["slow"]


def test_wait_spec_has_json_schema() -> None:
    class Approval(pydantic.BaseModel):
        ok: bool
        note: str = ""

    g = rt.Graph("approval")
    g.wait("approve", Approval)
    schema = g.spec()["nodes"][0]["schema"]
    assert schema["properties"]["ok"]["type"] == "boolean"
    assert schema["required"] == ["ok"]


GRAPH_MODULE = textwrap.dedent(
    """
    import runtime as rt
    g = rt.Graph("versioned")

    @g.node
    def a(x: int = 1) -> int:
        return x + {increment}

    @g.node
    def b(a: int) -> int:
        return a * 2

    print(g.version)
    """
)


def _version_in_subprocess(tmp_path: Path, increment: int) -> str:
    path = tmp_path / f"graph_{increment}.py"
    path.write_text(GRAPH_MODULE.format(increment=increment))
    out = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=True
    ).stdout
    return out.strip()


def test_version_is_stable_across_processes_and_changes_with_code(tmp_path: Path) -> None:
    first = _version_in_subprocess(tmp_path, 1)
    assert first == _version_in_subprocess(tmp_path, 1)
    assert first != _version_in_subprocess(tmp_path, 2)


def test_repr_is_readable() -> None:
    text = repr(diamond())
    assert text.startswith("Graph 'diamond' (4 nodes, version ")
    assert "d <- b, c" in text
    assert "inputs: x=1, factor" in text


def test_from_functions_takes_public_module_functions_only() -> None:
    g = rt.Graph.from_functions("dataflow", sample_dataflow)
    assert list(g.nodes) == ["raw", "doubled", "total", "label"]
    assert g.plan.deps["label"] == ("total",)
    assert set(g.plan.run_inputs) == {"n", "prefix"}


def test_runnable_inputs_inferred_from_prompt() -> None:
    g = rt.Graph("prompted")
    prompt = ChatPromptTemplate.from_messages([("human", "Tell me about {topic} in {style}")])
    node = g.add("ask", prompt)
    assert node.kind == "runnable"
    assert set(node.inputs) == {"topic", "style"}


def test_non_callable_target_is_rejected() -> None:
    g = rt.Graph("bad")
    with pytest.raises(rt.GraphError, match="node 'n': expected a function or a LangChain"):
        g.add("n", 42)  # type: ignore[arg-type]
