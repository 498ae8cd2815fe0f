"""A version covers all the code that runs: each shape of node code, edited under the same
names, gives a new version whose new code runs here, in another process and (see
tests/distributed/test_code_versions.py) on a worker; the same code gives the same version in
every process and wherever its file was loaded from."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runtime as rt
from runtime import codesign
from tests.code_shapes import SHAPES, expected, graph

ROOT = Path(__file__).parents[2]


def _python(code: str, *, cwd: Path = ROOT, seed: str = "random", **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "PYTHONHASHSEED": seed,
            **env,
        },
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("shape", list(SHAPES))
def test_edited_code_is_a_new_version_and_runs_in_process(
    sqlite_client: rt.Client, shape: str
) -> None:
    first, again, edited = graph(shape, 1), graph(shape, 1), graph(shape, 2)
    assert first.version == again.version
    assert edited.version != first.version

    old = first.run(x=3).wait(20)
    assert old.status == "succeeded", old.nodes["out"].traceback
    assert old.output("out") == expected(shape, 1)
    new = edited.run(x=3).wait(20)
    assert new.status == "succeeded", new.nodes["out"].traceback
    assert new.output("out") == expected(shape, 2)  # the same process runs the new code
    assert new.record.version_id != old.record.version_id


def test_edited_code_runs_in_another_process_from_the_stored_version(
    sqlite_client: rt.Client, tmp_path: Path
) -> None:
    ids = {}
    for shape in SHAPES:
        for edition in (1, 2):
            ids[f"{shape}:{edition}"] = sqlite_client.publish(graph(shape, edition)).id
    out = _python(
        f"""
        import json, runtime as rt
        client = rt.connect({sqlite_client.store.url!r}, home={str(tmp_path)!r})
        seen = {{}}
        for label, version_id in {ids!r}.items():
            run = client.start_version(version_id, {{"x": 3}}).wait(30)
            seen[label] = run.output("out") if run.status == "succeeded" else run.error
        client.close()
        print(json.dumps(seen, default=lambda m: m.content))
        """,
        PLAIT_HOME=str(tmp_path),
    )
    seen = json.loads(out)
    for shape in SHAPES:
        for edition in (1, 2):
            assert seen[f"{shape}:{edition}"] == expected(shape, edition), (shape, edition)


def test_the_same_code_is_the_same_version_in_every_process() -> None:
    here = {shape: graph(shape, 1).version for shape in SHAPES}
    code = """
        import json
        from tests.code_shapes import SHAPES, graph
        print(json.dumps({shape: graph(shape, 1).version for shape in SHAPES}))
        """
    for seed in ("1", "2", "12345"):  # string hashing, hence set order, differs per seed
        assert json.loads(_python(code, seed=seed)) == here


FLOW = """
import runtime as rt

WORDS = {"owl", "lark", "wren", "kite", "swift"}  # a set: its order differs per process


def helper(x):
    return sorted(w for w in WORDS if len(w) > x)


g = rt.Graph("script_or_module")


@g.node
def birds(x: int) -> list:
    return helper(x) + (["many"] if x in {1, 2, 3} else [])


if __name__ == "__main__":
    print(g.version)
"""


def test_a_file_run_as_a_script_and_imported_as_a_module_is_one_version(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    env = {"PYTHONPATH": f"{ROOT}:{tmp_path}"}
    as_script = subprocess.run(
        [sys.executable, "flow.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "7", **env},
        check=True,
    ).stdout.strip()
    as_module = _python("import flow; print(flow.g.version)", cwd=tmp_path, seed="8", **env)
    assert as_script == as_module
    edited = FLOW.replace("len(w) > x", "len(w) >= x")
    (tmp_path / "flow.py").write_text(edited)
    assert _python("import flow; print(flow.g.version)", cwd=tmp_path, **env) != as_module


def test_code_of_an_importable_module_ships_by_value(sqlite_client: rt.Client) -> None:
    """A worker or ``plait recover`` runs the code the version covers, not its own import."""
    from tests.core import sample_dataflow

    g = rt.Graph.from_functions("shipped", sample_dataflow)
    version = sqlite_client.publish(g)
    payload = codesign.verify(
        version.code, sqlite_client.keyring, codesign.subject(g.name, g.version), what="code"
    )
    for node in g.nodes.values():  # the functions' own bytecode travels, not their names
        assert node.target.__code__.co_code in payload  # type: ignore[union-attr]


def test_a_global_redefined_under_the_same_graph_is_a_new_version(
    sqlite_client: rt.Client, tmp_path: Path
) -> None:
    """A notebook: the graph cell runs once, the helper's cell is edited and run again."""
    cell: dict = {"__name__": "__main__"}
    exec("def helper(v):\n    return v + 1\n", cell)
    exec(
        "from langchain_core.runnables import RunnableLambda\n"
        "node = RunnableLambda(lambda v: helper(v))\n",
        cell,
    )
    g = rt.Graph("rebound_helper")
    g.add("out", cell["node"], inputs={"x": "x"})
    first = g.run(x=3).wait(20)
    assert first.output("out") == 4
    exec("def helper(v):\n    return v * 10\n", cell)
    second = g.run(x=3).wait(20)
    assert second.output("out") == 30
    assert second.record.version_id != first.record.version_id
    out = _python(
        f"""
        import runtime as rt
        client = rt.connect({sqlite_client.store.url!r}, home={str(tmp_path)!r})
        print(client.start_version({second.record.version_id}, {{"x": 3}}).wait(30).output("out"))
        client.close()
        """,
        PLAIT_HOME=str(tmp_path),
    )
    assert out == "30"  # the stored code is the new helper's


def test_a_plain_function_s_global_rebound_under_the_same_graph_is_a_new_version(
    sqlite_client: rt.Client,
) -> None:
    """A run of an unchanged graph keeps its version (without hashing it again); a helper,
    a constant or a closure's value rebound under it is a new version, with the new code."""
    cell: dict = {"__name__": "__main__"}
    exec("K = 1\ndef helper(v):\n    return v + K\ndef node(x):\n    return helper(x)\n", cell)
    g = rt.Graph("rebound_plain")
    g.add("out", cell["node"])
    first = g.run(x=3).wait(20)
    again = g.run(x=3).wait(20)
    assert first.output("out") == again.output("out") == 4
    assert again.record.version_id == first.record.version_id
    exec("K = 2\n", cell)
    constant = g.run(x=3).wait(20)
    assert constant.output("out") == 5
    assert constant.record.version_id != first.record.version_id
    exec("def helper(v):\n    return v * 10\n", cell)
    helper = g.run(x=3).wait(20)
    assert helper.output("out") == 30
    assert helper.record.version_id not in (first.record.version_id, constant.record.version_id)


def test_a_library_node_s_options_changed_in_place_are_a_new_version(
    sqlite_client: rt.Client,
) -> None:
    """The graph's spec holds each node's own options: one changed in place after a run
    must not keep the earlier version (whose stored options say otherwise)."""
    g = rt.Graph("options_in_place")
    g.add("greeting", rt.nodes.template(template="Hello {{ inputs.name }}"))
    first = g.run(name="Ada").wait(20)
    assert first.output("greeting") == "Hello Ada"
    g.nodes["greeting"].options["template"] = "Bye {{ inputs.name }}"
    second = g.run(name="Ada").wait(20)
    assert second.record.version_id != first.record.version_id
    assert second.output("greeting") == "Bye Ada"
