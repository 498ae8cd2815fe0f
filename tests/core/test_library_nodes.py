"""The node library's value kinds (``template``, ``transform``, ``filter``, ``router``,
``parse``) and the expressions between nodes, run by the real engine on a real store:
expressions wire the graph, bad ones are refused at build time naming the node and the field,
and a failing one fails its node showing the expression and the values."""

from __future__ import annotations

import datetime as dt

import pydantic
import pytest

import runtime as rt
from runtime.errors import GraphError
from runtime.testing import Clock
from tests.core.test_sleep import _waker


def test_template_and_transform_wire_by_expression(client: rt.Client) -> None:
    g = rt.Graph("library_values")
    g.add("items", lambda count: [{"n": i, "even": i % 2 == 0} for i in range(int(count))])
    g.add("greeting", rt.nodes.template(template="Hello {{ inputs.name }}"))
    g.add("evens", rt.nodes.transform("nodes.items.output[?even].n"))
    g.add(
        "summary",
        rt.nodes.transform(
            "{'who': nodes.greeting.output, 'evens': nodes.evens.output | length}",
            language="jinja",
        ),
    )
    spec = {n["name"]: n for n in g.spec()["nodes"]}
    assert spec["evens"]["depends_on"] == ["items"]
    assert sorted(spec["summary"]["depends_on"]) == ["evens", "greeting"]
    assert g.spec()["inputs"] == {"count": {"required": True}, "name": {"required": True}}

    run = g.run(name="Ada", count=5).wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("greeting") == "Hello Ada"
    assert run.output("evens") == [0, 2, 4]
    assert run.output("summary") == {"who": "Hello Ada", "evens": 3}
    kinds = {n["name"]: n["kind"] for n in run.spec["nodes"]}
    assert kinds == {
        "items": "function",
        "greeting": "template",
        "evens": "transform",
        "summary": "transform",
    }


def test_filter_and_router_decide_which_successors_run(sqlite_client: rt.Client) -> None:
    g = rt.Graph("library_routes")
    g.add("score", lambda points: int(points))
    g.add("gate", rt.nodes.filter("nodes.score.output > 10"))
    g.add("passed", lambda gate, score: f"passed with {score}")
    g.add(
        "route",
        rt.nodes.router(
            {"high": "nodes.score.output >= 50", "mid": "nodes.score.output >= 20"}, default="low"
        ),
    )
    g.add("high", lambda route: "high")
    g.add("mid", lambda route: "mid")
    g.add("low", lambda route: "low")

    run = g.run(points="30").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("gate") == {"passed": True, "value": True}
    assert run.output("passed") == "passed with 30"
    assert run.output("route") == ["mid"]
    statuses = {n: i.status for n, i in run.nodes.items()}
    assert statuses["mid"] == "succeeded"
    assert statuses["high"] == statuses["low"] == "skipped"

    run = g.run(points="3").wait(60)
    assert run.status == "succeeded", run.error
    statuses = {n: i.status for n, i in run.nodes.items()}
    assert statuses["passed"] == "skipped"
    assert run.output("route") == ["low"]
    assert statuses["low"] == "succeeded" and statuses["mid"] == "skipped"


def test_a_router_by_expression(sqlite_client: rt.Client) -> None:
    g = rt.Graph("library_router_expr")
    g.add("pick", rt.nodes.router(expression="inputs.lane"))
    g.add("fast", lambda pick: "fast")
    g.add("slow", lambda pick: "slow")
    run = g.run(lane="slow").wait(60)
    assert run.status == "succeeded", run.error
    assert {n: i.status for n, i in run.nodes.items()}["fast"] == "skipped"
    run = g.run(lane="nowhere").wait(60)
    assert run.status == "failed"
    assert "nowhere" in (run.nodes["pick"].error or "")


class Answer(pydantic.BaseModel):
    city: str
    degrees: float


def test_parse_json_pydantic_and_regex(sqlite_client: rt.Client) -> None:
    g = rt.Graph("library_parse")
    g.add("reply", lambda: 'Sure!\n```json\n{"city": "Oslo", "degrees": "4.5"}\n```')
    g.add("data", rt.nodes.parse("{{ nodes.reply.output }}"))
    g.add("answer", rt.nodes.parse("{{ nodes.reply.output }}", model=Answer))
    g.add(
        "temp",
        rt.nodes.parse(
            "{{ nodes.reply.output }}", format="regex", pattern=r'"degrees": "(?P<d>[\d.]+)"'
        ),
    )
    run = g.run().wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("data") == {"city": "Oslo", "degrees": "4.5"}
    assert run.output("answer") == {"city": "Oslo", "degrees": 4.5}
    assert run.output("temp") == {"d": "4.5"}


def test_input_types_type_the_declared_run_inputs(sqlite_client: rt.Client) -> None:
    g = rt.Graph("library_types")
    g.add("double", rt.nodes.transform("inputs.n * 2", language="jinja", input_types={"n": "int"}))
    assert g.check_inputs({"n": "21"}, from_text=True) == {"n": 21}
    run = g.run(n=21).wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("double") == 42


def test_expression_errors_at_build_time_name_the_node_and_the_field() -> None:
    g = rt.Graph("library_bad")
    g.add("greet", rt.nodes.template(template="Hi {{ nodes.nobody.output }}"))
    with pytest.raises(
        GraphError, match=r"node 'greet': field template names unknown node 'nobody'"
    ):
        g.validate()

    with pytest.raises(GraphError, match=r"node 'x': field template: .*names secret"):
        rt.Graph("b").add("x", rt.nodes.template(template="{{ secret }}"))
    with pytest.raises(GraphError, match=r"node 'x': field template: .*unexpected"):
        rt.Graph("b").add("x", rt.nodes.template(template="{{ inputs.a + }}"))
    with pytest.raises(GraphError, match=r"node 'x': field condition: .*without naming"):
        rt.Graph("b").add("x", rt.nodes.filter("nodes[inputs.which]"))
    with pytest.raises(GraphError, match=r"node 'x': field expression: Invalid jmespath"):
        rt.Graph("b").add("x", rt.nodes.transform("nodes.[["))
    with pytest.raises(GraphError, match=r"rt.nodes.router\(...\): .*not both"):
        rt.nodes.router({"a": "true"}, expression="'a'")

    g = rt.Graph("library_clash")
    g.add("name", lambda: "n")
    g.add("greet", rt.nodes.template(template="Hi {{ inputs.name }}"))
    with pytest.raises(GraphError, match=r"reads inputs.name, but 'name' is a node"):
        g.validate()

    g = rt.Graph("library_router_bad")
    g.add("pick", rt.nodes.router({"nowhere": "true"}))
    g.add("somewhere", lambda pick: 1)
    with pytest.raises(GraphError, match=r"router 'pick': routes names 'nowhere'"):
        g.validate()


def test_a_runtime_expression_error_fails_the_node_showing_expression_and_values(
    sqlite_client: rt.Client,
) -> None:
    g = rt.Graph("library_runtime_error")
    g.add("data", lambda: {"a": 1})
    g.add("show", rt.nodes.template(template="{{ nodes.data.output.missing }}"))
    run = g.run().wait(60)
    assert run.status == "failed"
    error = run.nodes["show"].error or ""
    assert "field template" in error and "{{ nodes.data.output.missing }}" in error
    assert "'a': 1" in error  # the values it saw


def test_the_sandbox_refuses_python_internals(sqlite_client: rt.Client) -> None:
    g = rt.Graph("library_sandbox")
    g.add("peek", rt.nodes.template(template="{{ inputs.x.__class__.__mro__ }}"))
    run = g.run(x="s").wait(60)
    assert run.status == "failed"
    assert "SecurityError" in (run.nodes["peek"].error or "") or "unsafe" in (
        run.nodes["peek"].error or ""
    )


def test_a_stored_spec_entry_builds_the_same_node_by_kind(sqlite_client: rt.Client) -> None:
    """What the studio's builder does: a kind name and JSON options, no Python object."""
    g = rt.Graph("library_by_kind")
    g.add("n", lambda: 2)
    entry = {
        "kind": "transform",
        "options": {"expression": "nodes.n.output + 1", "language": "jinja"},
    }
    g.add_node("plus", entry["kind"], options=entry["options"])  # type: ignore[arg-type]
    assert g.spec()["edges"] == [["n", "plus"]]
    run = g.run().wait(60)
    assert run.output("plus") == 3


def test_a_library_node_runs_in_a_child_process(sqlite_client: rt.Client) -> None:
    g = rt.Graph("library_isolated")
    g.add("greeting", rt.nodes.template(template="Hello {{ inputs.name }}"), isolation="process")
    run = g.run(name="child").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("greeting") == "Hello child"


def test_approval_sleep_and_subgraph_wrappers(sqlite_client: rt.Client) -> None:
    child = rt.Graph("library_child")
    child.add(
        "double", rt.nodes.transform("inputs.n * 2", language="jinja", input_types={"n": "int"})
    )

    g = rt.Graph("library_wrappers")
    g.add("review", rt.nodes.approval(["ada", "bob"], description="Ship it?"))
    g.add("pause", rt.nodes.sleep(0.01), after=["review"])
    g.add("inner", rt.nodes.subgraph(child), after=["pause"])
    g.add(
        "verdict",
        rt.nodes.template(
            template="{{ nodes.review.output.approver }}: {{ nodes.inner.output.double }}"
        ),
    )
    kinds = {n["name"]: n["kind"] for n in g.spec()["nodes"]}
    assert kinds == {
        "review": "approval",
        "pause": "sleep",
        "inner": "graph",
        "verdict": "template",
    }

    run = g.run(n=4).wait(30)
    assert run.status == "waiting"
    assert set(run.waiting["review"]["properties"]) == {"approved", "approver", "comment"}
    with pytest.raises(Exception, match="approver"):
        run.resume("review", {"approved": True, "approver": "eve"})
    run.resume("review", {"approved": True, "approver": "ada", "comment": "ok"})
    run = run.wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("verdict") == "ada: 8"


def test_an_approval_past_its_deadline_is_rejected(sqlite_client: rt.Client) -> None:
    g = rt.Graph("library_deadline")
    g.add("review", rt.nodes.approval(deadline=dt.timedelta(minutes=10)))
    g.add("gate", rt.nodes.filter("nodes.review.output.approved"))
    g.add("ship", lambda gate: "shipped")
    run = g.run().wait(30)
    assert run.status == "waiting"
    clock = Clock()
    clock.advance(minutes=11)
    _waker(sqlite_client, clock).tick()
    run = run.wait(30)
    assert run.status == "succeeded", run.error
    assert run.output("review")["approved"] is False
    assert {n: i.status for n, i in run.nodes.items()}["ship"] == "skipped"
    with pytest.raises(GraphError, match="approval node 'r' takes no retries"):
        rt.Graph("x").add("r", rt.nodes.approval(), retries=2)
