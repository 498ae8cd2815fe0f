"""Hamilton modules run through Hamilton's own resolver: every output equals what Hamilton's
driver computes, in this process, after a kill and ``plait recover``, and on a worker."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pytest
from hamilton import base, driver

import runtime as rt
from tests.conftest import _migrate
from tests.hamilton import checked, columns, interrupted, nested, parameterized, piped, variants

pytestmark = pytest.mark.filterwarnings("ignore:pipe will be deprecated")

ROOT = Path(__file__).parents[2]

CASES: list[tuple[str, list[types.ModuleType], dict[str, Any], dict[str, Any]]] = [
    ("extract_columns", [columns], {}, {"rows": 5}),
    ("parameterize", [parameterized], {}, {"n": 6}),
    ("config_when_sum", [variants], {"mode": "sum"}, {"n": 4}),
    ("config_when_mean", [variants], {"mode": "mean"}, {"n": 4}),
    ("check_output", [checked], {}, {"low": 1, "high": 9}),
    ("pipe", [piped], {}, {"n": 5, "factor": 2.5}),
    ("subdag_and_does", [nested], {}, {"size": 3}),
    ("several_modules", [columns, parameterized], {}, {"n": 3}),
]


def hamilton_values(
    modules: list[types.ModuleType], config: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any]:
    """Every node's value as Hamilton's own driver computes it."""
    dr = (
        driver.Builder()
        .with_modules(*modules)
        .with_config(config)
        .with_adapters(base.SimplePythonGraphAdapter(base.DictResult()))
        .build()
    )
    names = [n.name for n in dr.graph.get_nodes() if not n.user_defined]
    return dr.execute(names, inputs=inputs)


def plait_names(graph: rt.Graph) -> dict[str, str]:
    """Hamilton node name -> Plait node name."""
    return {node.target.hamilton_name: name for name, node in graph.nodes.items()}  # type: ignore[union-attr]


def assert_same(expected: dict[str, Any], run: rt.Run, graph: rt.Graph) -> None:
    names = plait_names(graph)
    assert set(names) == set(expected)
    for hamilton_name, value in expected.items():
        got = run.output(names[hamilton_name])
        if isinstance(value, pd.DataFrame):
            pdt.assert_frame_equal(got, value)
        elif isinstance(value, pd.Series):
            pdt.assert_series_equal(got, value)
        else:
            assert got == value, hamilton_name


@pytest.mark.parametrize(("case", "modules", "config", "inputs"), CASES, ids=[c[0] for c in CASES])
def test_every_output_equals_hamiltons(
    client: rt.Client,
    case: str,
    modules: list[types.ModuleType],
    config: dict[str, Any],
    inputs: dict[str, Any],
) -> None:
    g = rt.Graph.from_hamilton(case, *modules, config=config)
    run = g.run(**inputs).wait(60)
    assert run.status == "succeeded", run.error
    assert all(n.status == "succeeded" for n in run.nodes.values())
    assert_same(hamilton_values(modules, config, inputs), run, g)


def test_config_when_runs_only_the_chosen_variant(client: rt.Client) -> None:
    summed = rt.Graph.from_hamilton("variants", variants, config={"mode": "sum"})
    averaged = rt.Graph.from_hamilton("variants", variants, config={"mode": "mean"})
    assert sorted(summed.nodes) == sorted(averaged.nodes) == ["label", "summary", "values"]
    assert summed.version != averaged.version
    assert summed.run(n=4).wait(30).output("label") == "sum 10.0"
    assert averaged.run(n=4).wait(30).output("label") == "other 2.5"


def test_check_output_fails_the_node_per_its_importance(client: rt.Client) -> None:
    g = rt.Graph.from_hamilton("checked", checked)
    with pytest.raises(Exception, match="strict") as raised:  # what Hamilton's driver says
        hamilton_values([checked], {}, {"low": 5, "high": 20})
    run = g.run(low=5, high=20).wait(30)
    assert run.status == "failed"
    strict = run.nodes["strict"]
    assert strict.status == "failed"
    assert strict.error_type == type(raised.value).__name__ == "DataValidationError"
    # importance="warn": the lenient node's values are out of range too, and it succeeds
    assert run.nodes["lenient"].status == "succeeded"
    assert run.nodes["lenient_range_validator"].status == "succeeded"
    assert not run.output("lenient_range_validator").passes
    pdt.assert_series_equal(run.output("lenient"), pd.Series(range(6, 21), dtype="int64"))


def test_outputs_run_only_what_hamiltons_final_vars_need(client: rt.Client) -> None:
    g = rt.Graph.from_hamilton("columns_chosen", columns)
    dr = (
        driver.Builder()
        .with_modules(columns)
        .with_adapters(base.SimplePythonGraphAdapter(base.DictResult()))
        .build()
    )
    expected = dr.execute(["total_spend"], inputs={"rows": 5})
    run = g.run(rows=5, final_vars=["total_spend"]).wait(30)
    assert run.status == "succeeded", run.error
    assert run.outputs == expected == {"total_spend": 100.0}
    assert {n: i.status for n, i in run.nodes.items()} == {
        "raw": "succeeded",
        "spend": "succeeded",
        "total_spend": "succeeded",
        "signups": "not_needed",  # an extracted column nothing asked for is not computed
        "spend_per_signup": "not_needed",
    }


def test_from_hamilton_needs_modules_and_names_what_hamilton_refused(tmp_path: Path) -> None:
    with pytest.raises(rt.GraphError, match="at least one module"):
        rt.Graph.from_hamilton("none")
    with pytest.raises(rt.GraphError, match="takes modules, got function"):
        rt.Graph.from_hamilton("fn", columns.raw)  # type: ignore[arg-type]
    broken = _load(
        tmp_path / "broken_hamilton.py",
        "def a() -> int:\n    return 1\n\n\ndef b(a: str) -> str:\n    return a\n",
    )
    with pytest.raises(rt.GraphError, match="Hamilton cannot build a graph from broken_hamilton"):
        rt.Graph.from_hamilton("broken", broken)


def test_a_changed_hamilton_function_changes_the_version(tmp_path: Path) -> None:
    source = (ROOT / "tests/hamilton/columns.py").read_text()
    first = _load(tmp_path / "one" / "hm_edit.py", source)
    second = _load(tmp_path / "two" / "hm_edit.py", source.replace("spend / signups", "spend"))
    same = _load(tmp_path / "three" / "hm_edit.py", source)
    v1, v2, v3 = (rt.Graph.from_hamilton("edit", m).version for m in (first, second, same))
    assert v1 != v2
    assert v1 == v3


@pytest.mark.parametrize(
    ("fixture", "old", "new"),
    [
        ("nested.py", "return sum(series.values())", "return max(series.values())"),  # @does
        ("piped.py", "return series + amount", "return series - amount"),  # a @pipe step
        ("nested.py", 'config={"mode": "mean"}', 'config={"mode": "sum"}'),  # @subdag config
    ],
)
def test_code_behind_a_decorator_is_part_of_the_version(
    tmp_path: Path, fixture: str, old: str, new: str
) -> None:
    source = (ROOT / "tests/hamilton" / fixture).read_text()
    assert old in source
    before = _load(tmp_path / "a" / f"hm_{fixture}", source)
    v1 = rt.Graph.from_hamilton("edit", before).version
    after = _load(tmp_path / "b" / f"hm_{fixture}", source.replace(old, new))
    assert rt.Graph.from_hamilton("edit", after).version != v1


@pytest.mark.parametrize(
    ("module", "decorator"),
    [
        (columns, "@extract_columns"),
        (parameterized, "@parameterize"),
        (variants, "@config.when"),
        (checked, "@check_output"),
        (piped, "@pipe"),
        (nested, "@subdag"),
    ],
)
def test_from_functions_refuses_hamilton_decorators(module: Any, decorator: str) -> None:
    with pytest.raises(rt.GraphError, match=rf"carries Hamilton's {decorator}.*from_hamilton"):
        rt.Graph.from_functions("plain", module)


def test_from_functions_refuses_does() -> None:
    with pytest.raises(rt.GraphError, match="'both' carries Hamilton's @does"):
        rt.Graph.from_functions("plain", [nested.first, nested.both])


def test_from_functions_takes_several_modules(client: rt.Client) -> None:
    first, second = types.ModuleType("part_one"), types.ModuleType("part_two")
    exec("def a(x: int) -> int:\n    return x + 1\n", first.__dict__)
    exec("def b(a: int) -> int:\n    return a * 10\n", second.__dict__)
    for fn in (*vars(first).values(), *vars(second).values()):
        if callable(fn):
            fn.__module__ = first.__name__ if fn.__name__ == "a" else second.__name__
    g = rt.Graph.from_functions("parts", first, second)
    assert list(g.nodes) == ["a", "b"]
    assert g.run(x=1).wait(30).outputs == {"b": 20}
    # a list of modules, or of modules and functions, or functions one by one: the same graph
    for given in ([first, second], [first, second.b], (first.a, second.b)):
        assert rt.Graph.from_functions("parts", given).version == g.version, given
    assert rt.Graph.from_functions("parts", first.a, second.b).version == g.version


def test_from_hamilton_takes_a_list_of_modules() -> None:
    several = rt.Graph.from_hamilton("listed", columns, parameterized)
    assert rt.Graph.from_hamilton("listed", [columns, parameterized]).version == several.version
    with pytest.raises(rt.GraphError, match="takes modules, got function"):
        rt.Graph.from_hamilton("listed", [columns, columns.raw])  # type: ignore[list-item]


def test_from_functions_of_main_leaves_out_another_graphs_nodes() -> None:
    notebook = types.ModuleType("__main__")
    exec(
        textwrap.dedent(
            """
            import runtime as rt

            other = rt.Graph("other")

            @other.node
            def belongs_elsewhere(x: int) -> int:
                return x

            def mine(y: int) -> int:
                return y * 2
            """
        ),
        notebook.__dict__,
    )
    g = rt.Graph.from_functions("mine", notebook)
    assert list(g.nodes) == ["mine"]
    notebook.__dict__["g"] = g  # the cell run again: the same functions, not none
    assert list(rt.Graph.from_functions("mine", notebook).nodes) == ["mine"]


def _load(path: Path, source: str) -> types.ModuleType:
    """A module from a file that no other process can import by name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


RUN_AND_HANG = textwrap.dedent(
    """
    import sys
    import runtime as rt
    from tests.hamilton import interrupted

    g = rt.Graph.from_hamilton("interrupted", interrupted)
    run = g.run(n=6)
    print(run.id, flush=True)
    run.wait()
    """
)


def test_outputs_equal_hamiltons_after_a_kill_and_recover(db_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "hanging"
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", RUN_AND_HANG],
        env={**env, "PLAIT_TEST_HANG": str(marker)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    watcher = rt.connect(db_url, home=tmp_path)
    try:
        _until(marker.exists)
        _until(lambda: watcher.get_run(run_id).nodes["b"].status == "succeeded")
    finally:
        watcher.close()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert f"run {run_id}: succeeded" in recovered.stdout
    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        assert run.nodes["frame"].attempts == 1  # checkpoints before the kill were kept
        assert run.nodes["total"].attempts == 2
        g = rt.Graph.from_hamilton("interrupted", interrupted)
        assert_same(hamilton_values([interrupted], {}, {"n": 6}), run, g)
    finally:
        client.close()


@pytest.mark.postgres
@pytest.mark.redis
def test_outputs_equal_hamiltons_on_a_worker(pg_url: str, tmp_path: Path) -> None:
    from runtime import client as client_module
    from tests.conftest import REDIS_URL, _truncate
    from tests.workers import cluster

    # modules only this process can import (one reached only through @subdag): the version
    # must carry their code
    private = tmp_path / "private"
    module = _load(private / "private_columns.py", (ROOT / "tests/hamilton/columns.py").read_text())
    _load(private / "private_variants.py", (ROOT / "tests/hamilton/variants.py").read_text())
    nested_source = (ROOT / "tests/hamilton/nested.py").read_text()
    assert "from tests.hamilton import variants" in nested_source
    private_nested = _load(
        private / "private_nested.py",
        nested_source.replace(
            "from tests.hamilton import variants", "import private_variants as variants"
        ),
    )
    _migrate(pg_url)
    _truncate(pg_url)
    with cluster(pg_url, REDIS_URL, tmp_path) as c:
        c.start_worker(processes=1)
        caller = c.connect()
        try:
            g = rt.Graph.from_hamilton("on_worker", module, private_nested, config={})
            run = caller.start(g, {"rows": 4, "size": 3}).wait(60)
            assert run.status == "succeeded", run.error
            expected = hamilton_values([module, private_nested], {}, {"rows": 4, "size": 3})
            assert_same(expected, run, g)
        finally:
            caller.close()
            client_module._default = None
    shutil.rmtree(tmp_path / "private", ignore_errors=True)


def _until(condition: Any, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_hamilton_nodes_are_retried_per_the_policy_given(client: rt.Client) -> None:
    from tests.hamilton import flaky

    once = rt.Graph.from_hamilton("flaky", flaky).run(n=3).wait(30)
    assert once.status == "failed"
    assert once.nodes["shaky"].error_type == "ConnectionError"
    g = rt.Graph.from_hamilton("flaky", flaky, retries=1, backoff=0)
    run = g.run(n=3).wait(30)
    assert run.status == "succeeded", run.error
    assert run.nodes["shaky"].attempts == 2 and run.nodes["series"].attempts == 1
    pdt.assert_series_equal(run.output("shaky"), pd.Series([0, 2, 4]))
    with pytest.raises(rt.GraphError, match="from_hamilton graph 'bad': retries must be an int"):
        rt.Graph.from_hamilton("bad", flaky, retries=-1)


def test_the_spec_names_each_nodes_own_module() -> None:
    spec = rt.Graph.from_hamilton("nested", nested).spec()
    code = {n["name"]: n["code"] for n in spec["nodes"]}
    assert code["both"] == "tests.hamilton.nested:both"
    assert code["mean_label__summary"] == "tests.hamilton.variants:mean_label.summary"


def test_hamilton_nodes_run_in_child_processes(sqlite_client: rt.Client) -> None:
    g = rt.Graph.from_hamilton("isolated", piped, isolation="process")
    run = g.run(n=4, factor=3.0).wait(60)
    assert run.status == "succeeded", run.error
    assert_same(hamilton_values([piped], {}, {"n": 4, "factor": 3.0}), run, g)
