"""Node kinds are plug-ins: a package declares one under the ``plait.nodes`` entry point group
and graphs use it like a built-in kind, in the process that builds the graph, in a child
process, in a worker process, in the spec and the API, in every view. Options are checked
against the kind's model when the graph is built."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pydantic
import pytest
from fastapi.testclient import TestClient

import runtime as rt
from runtime import nodes
from runtime.api import NodeSpec, create_api, run_detail
from runtime.errors import GraphError
from runtime.notebook.view import RunModel
from studio import data as studio_data
from studio.logic import layout
from studio.logic.node_kinds import node_kinds
from tests.conftest import REDIS_URL, _migrate, _truncate
from tests.workers import cluster

ROOT = Path(__file__).parent.parent.parent

PLUGIN = '''
"""Example node kinds of the ``plait-example-kinds`` distribution."""
import os

import pydantic

from runtime.nodes import Call, NodeKind


class ShoutOptions(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    suffix: str = "!"
    times: int = pydantic.Field(1, ge=1, le=5)


def shout(text: str, suffix: str, times: int) -> dict:
    return {"text": (text.upper() + suffix) * times, "pid": os.getpid()}


class ShoutKind(NodeKind):
    """Upper-cases its ``text`` input.

    More words that the studio does not list."""

    name = "shout"
    options = ShoutOptions

    def call(self, node, kwargs):
        return Call(shout, {**kwargs, **self.configured(node).model_dump()})


class FakeFunction(NodeKind):
    name = "function"  # taken by the built-in kind: refused, logged
'''

SCRIPT = """
import json, logging, os, sys

logging.basicConfig(level=logging.ERROR, format="%(name)s %(message)s")

import runtime as rt
from runtime import nodes

g = rt.Graph("kinds_demo")


@g.node
def src(word: str) -> str:
    return word


g.add_node("loud", "shout", options={"suffix": "?", "times": 2}, inputs={"text": "src"})
g.add_node("loud_child", "shout", inputs=["text"], isolation="process")
g.add("text", lambda src: src + "s")

if sys.argv[1] == "embedded":
    client = rt.connect(sys.argv[2], home=sys.argv[3])
else:  # a cluster: the environment names the store, Redis and the queue
    client = rt.connect()
run = client.start(g, {"word": "hey"})
run = run.wait(90)
print(json.dumps({
    "status": run.status,
    "error": run.error,
    "pid": os.getpid(),
    "loud": run.output("loud") if run.status == "succeeded" else None,
    "loud_child": run.output("loud_child") if run.status == "succeeded" else None,
    "spec": {n["name"]: n for n in run.spec["nodes"]},
    "kinds": sorted(nodes.kinds()),
}))
client.close()
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A directory holding an installed distribution with node kind plug-ins: one that
    works, one whose module does not import, one that takes a built-in kind's name and one
    that is no kind at all."""
    site = tmp_path / "site"
    (site / "plait_example_kinds").mkdir(parents=True)
    (site / "plait_example_kinds" / "__init__.py").write_text(PLUGIN)
    (site / "plait_example_broken.py").write_text('raise RuntimeError("this plug-in is broken")\n')
    info = site / "plait_example_kinds-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: plait-example-kinds\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [plait.nodes]
            shout = plait_example_kinds:ShoutKind
            broken = plait_example_broken:Kind
            fake_function = plait_example_kinds:FakeFunction
            not_a_kind = plait_example_kinds:shout
            """
        )
    )
    (tmp_path / "use_kinds.py").write_text(SCRIPT)
    return site


def _script(plugin: Path, args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, str(plugin.parent / "use_kinds.py"), *args],
        env={**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{plugin}"},
        cwd=plugin.parent,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_plugin_kind_runs_in_a_fresh_interpreter_in_thread_and_child_process(
    plugin: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    out, stderr = _script(
        plugin, ["embedded", f"sqlite:///{tmp_path / 'plait.db'}", str(tmp_path)], env
    )
    assert out["status"] == "succeeded", out["error"]
    assert out["loud"]["text"] == "HEY?HEY?"
    assert out["loud"]["pid"] == out["pid"]  # a thread of the script's own engine
    assert out["loud_child"]["text"] == "HEYS!"  # the defaults of its options
    assert out["loud_child"]["pid"] != out["pid"]  # isolation="process": a child process
    assert out["spec"]["loud"]["kind"] == "shout"
    assert out["spec"]["loud"]["options"] == {"suffix": "?", "times": 2}
    assert "options" not in out["spec"]["src"]
    assert "options" not in out["spec"]["loud_child"]  # only when given
    # the broken plug-ins are logged, by name; the others load
    assert "shout" in out["kinds"] and "broken" not in out["kinds"]
    assert "node kind plug-in broken" in stderr and "this plug-in is broken" in stderr
    assert "node kind plug-in fake_function: node kind 'function' is taken" in stderr
    assert "node kind plug-in not_a_kind is" in stderr and "not a NodeKind" in stderr


def test_a_worker_process_resolves_the_kind_through_its_entry_point(
    plugin: Path, pg_url: str, tmp_path: Path
) -> None:
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path / "cluster") as c:
        (tmp_path / "cluster").mkdir()
        worker = c.start_worker(env={"PYTHONPATH": f"{ROOT}{os.pathsep}{plugin}"})
        out, _ = _script(plugin, ["cluster"], c.env)
    assert out["status"] == "succeeded", (out["error"], worker.log.read_text())  # type: ignore[attr-defined]
    assert out["loud"]["text"] == "HEY?HEY?"
    assert out["loud"]["pid"] != out["pid"]  # executed by the worker, not the caller
    assert out["loud_child"]["text"] == "HEYS!"


# -- in this process: kinds registered directly --------------------------------------------


class Greeting(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    greeting: str
    punctuation: str = "."


def greet(name: str, greeting: str, punctuation: str) -> str:
    return f"{greeting}, {name}{punctuation}"


class GreetKind(nodes.NodeKind):
    """Greets its ``name`` input."""

    name = "test_greet"
    options = Greeting

    def call(self, node: nodes.Node, kwargs: dict[str, Any]) -> nodes.Call:
        return nodes.Call(greet, {**kwargs, **self.configured(node).model_dump()})  # type: ignore[union-attr]


class PlainKind(nodes.NodeKind):
    name = "test_plain"

    def call(self, node: nodes.Node, kwargs: dict[str, Any]) -> nodes.Call:
        return nodes.Call(node.target, kwargs)  # type: ignore[arg-type]

    def check(self, node: nodes.Node) -> None:
        if not callable(node.target):
            raise GraphError(f"node {node.name!r}: a test_plain node needs a callable target")


nodes.register(GreetKind)
nodes.register(PlainKind)


def _greeting_graph(greeting: str = "hello") -> rt.Graph:
    g = rt.Graph("greetings")
    g.add("who", lambda person: person.title())
    g.add_node("hello", "test_greet", options={"greeting": greeting}, inputs={"name": "who"})
    g.add_node("shouted", "test_plain", target=lambda hello: hello.upper())
    return g


def test_registration_conflicts_are_refused_by_name() -> None:
    class Impostor(nodes.NodeKind):
        name = "test_greet"

    with pytest.raises(GraphError, match=r"node kind 'test_greet' is taken by .*GreetKind"):
        nodes.register(Impostor)
    with pytest.raises(GraphError, match="node kind 'function' is taken"):
        nodes.register(type("Fn", (nodes.NodeKind,), {"name": "function"}))
    assert nodes.register(GreetKind) is nodes.kind_of("test_greet")  # the same class: a no-op

    class Nameless(nodes.NodeKind):
        name = "not a name"

    with pytest.raises(GraphError, match="name must be an identifier"):
        nodes.register(Nameless)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("nope", None, r"node 'n': unknown node kind 'nope' \(known: .*test_greet"),
        (
            "test_greet",
            None,
            r"invalid options for node kind 'test_greet': greeting: Field required",
        ),
        ("test_greet", {"greeting": 3}, r"greeting: Input should be a valid string"),
        ("test_greet", {"greeting": "hi", "colour": "red"}, r"colour: Extra inputs"),
        ("test_greet", ["hi"], r"options of node kind 'test_greet' are a dict, got list"),
        ("test_plain", {"a": 1}, r"node 'n': node kind 'test_plain' takes no options"),
        ("test_plain", None, r"a test_plain node needs a callable target"),
        ("function", None, r"node 'n': a function node needs a callable target"),
        ("wait", None, r"a wait node needs a payload schema; add it with g.wait\('n', schema\)"),
    ],
)
def test_bad_kinds_and_options_are_refused_when_the_graph_is_built(
    kind: str, options: Any, message: str
) -> None:
    g = rt.Graph("bad")
    with pytest.raises(GraphError, match=message):
        g.add_node("n", kind, options=options, inputs={"name": "who"})
    assert "n" not in g.nodes


def test_wiring_of_a_custom_node_is_checked() -> None:
    g = rt.Graph("bad")
    with pytest.raises(GraphError, match=r"inputs is a dict or a list of names, e.g. \['who'\]"):
        g.add_node("n", "test_greet", options={"greeting": "hi"}, inputs="who")
    with pytest.raises(GraphError, match="input name 'not a node' is not an identifier"):
        g.add_node("n", "test_greet", options={"greeting": "hi"}, inputs={"name": "not a node"})


def test_options_are_in_the_spec_and_the_version() -> None:
    hello, hi = _greeting_graph("hello"), _greeting_graph("hi")
    entry = {n["name"]: n for n in hello.spec()["nodes"]}
    assert entry["hello"]["kind"] == "test_greet"
    assert entry["hello"]["options"] == {"greeting": "hello", "punctuation": "."}
    assert entry["hello"]["depends_on"] == ["who"]
    assert entry["shouted"]["depends_on"] == ["hello"]  # a callable target wired by signature
    assert "options" not in entry["who"] and "options" not in entry["shouted"]
    assert hello.version != hi.version
    assert hello.version == _greeting_graph("hello").version
    assert hello.plan.run_inputs == {"person": rt.graph._REQUIRED}  # type: ignore[attr-defined]


def test_a_published_spec_keeps_a_custom_kind_and_its_options() -> None:
    entry = next(n for n in _greeting_graph().spec()["nodes"] if n["name"] == "hello")
    published = NodeSpec.model_validate(entry).model_dump(by_alias=True, exclude_none=True)
    assert published["kind"] == "test_greet"
    assert published["options"] == {"greeting": "hello", "punctuation": "."}
    with pytest.raises(pydantic.ValidationError, match="unknown node kind 'not_installed'"):
        NodeSpec.model_validate({**entry, "kind": "not_installed"})


def test_a_plain_function_node_can_be_added_by_kind_too() -> None:
    g = rt.Graph("by_kind")
    g.add_node("double", "function", target=lambda x: 2 * x, retries=2)
    assert g.spec()["nodes"][0]["policies"]["retries"] == 2
    assert "options" not in g.spec()["nodes"][0]
    plain = rt.Graph("by_kind")
    plain.add("double", lambda x: 2 * x, retries=2)
    assert plain.spec() == g.spec()


def test_a_custom_kind_runs_and_every_view_names_it(client: rt.Client) -> None:
    run = client.start(_greeting_graph(), {"person": "ada"}).wait(30)
    assert run.status == "succeeded", run.error
    assert run.output("hello") == "hello, Ada."
    assert run.output("shouted") == "HELLO, ADA."
    # the REST API
    assert {n.name: n.kind for n in run_detail(run).nodes}["hello"] == "test_greet"
    # the report
    page = str(run.report())
    assert 'data-node="hello" data-status="succeeded" data-kind="test_greet"' in page
    assert "test_greet · attempts 1" in page
    # the notebook view
    model = RunModel(run.spec)
    for event in run.events():
        model.apply(event)
    assert "<title>hello (test_greet): succeeded</title>" in model.svg()
    # the studio's run page: the node panel and the graph
    assert studio_data.node_detail(client, run.id, "hello", run.spec).kind == "test_greet"
    flow = layout.flow_nodes(layout.place(run.spec), {"hello": "succeeded"})
    assert "plait-kind-test_greet" in next(n for n in flow if n["id"] == "hello")["className"]


def test_the_studio_and_the_api_list_kinds_with_their_options_schema(client: rt.Client) -> None:
    rows = {row.name: row for row in node_kinds()}
    assert {"function", "runnable", "wait", "test_greet"} <= set(rows)
    greet_row = rows["test_greet"]
    assert greet_row.doc == "Greets its ``name`` input."
    assert greet_row.options["required"] == ["greeting"]
    assert [(f.name, f.required, f.default) for f in greet_row.fields] == [
        ("greeting", True, ""),
        ("punctuation", False, "."),
    ]
    assert rows["wait"].parks == "waiting" and rows["function"].options == {}
    with TestClient(create_api(lambda: client)) as http:
        listed = http.get("/api/v1/node-kinds")
    assert listed.status_code == 200, listed.text
    by_name = {k["name"]: k for k in listed.json()}
    assert by_name["test_greet"]["options"] == Greeting.model_json_schema()
    assert by_name["wait"]["parks"] == "waiting"


# -- no kind switches left -------------------------------------------------------------------

CHECKED = ["runtime/engine.py", "runtime/report.py", "runtime/notebook", "studio"]
KIND_NAMES = {"function", "runnable", "wait", "branch", "map", "graph", "subgraph", "sleep"}


def _is_kind_read(node: ast.expr) -> bool:
    """``x.kind``, ``x["kind"]`` or a bare ``kind``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "kind"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "kind"
    return isinstance(node, ast.Name) and node.id == "kind"


def _names_a_node_kind(node: ast.expr) -> bool:
    """A node kind's name: a literal one, or ``SomeKind.name``."""
    if isinstance(node, ast.Constant):
        return node.value in KIND_NAMES or node.value in nodes.kinds()
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_names_a_node_kind(e) for e in node.elts)
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "name"
        and isinstance(node.value, ast.Name)
        and node.value.id.endswith("Kind")
    )


def _kind_switches(path: Path) -> list[int]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(_is_kind_read(s) for s in sides) and any(_names_a_node_kind(s) for s in sides):
            found.append(node.lineno)
    return found


def test_no_view_or_engine_code_switches_on_a_node_kind() -> None:
    paths = [
        p
        for checked in CHECKED
        for p in (
            [ROOT / checked] if checked.endswith(".py") else sorted((ROOT / checked).rglob("*.py"))
        )
    ]
    assert len(paths) > 10
    offenders = {str(p.relative_to(ROOT)): lines for p in paths if (lines := _kind_switches(p))}
    assert offenders == {}, f"ask the node's kind (runtime.nodes) instead: {offenders}"


def test_the_kind_switch_check_finds_a_switch(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "if node.kind == 'wait': pass\n"
        "if n['kind'] != \"function\": pass\n"
        "if kind in ('runnable', 'x'): pass\n"
        "if node.kind == WaitKind.name: pass\n"
        "if f.kind == 'boolean': pass\n"  # a form field's kind: no node kind
        "if kind == 'node.succeeded': pass\n"  # an event type
    )
    assert _kind_switches(sample) == [1, 2, 3, 4]
