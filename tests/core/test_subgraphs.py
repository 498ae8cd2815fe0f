"""Sub-graphs: ``g.add("enrich", other_graph, inputs={...})`` runs the other graph as a child
run linked to its parent; its outputs dict is the node's output; failures and cancels
propagate as the README says; a kill mid-sub-graph never starts a second child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import runtime as rt
from runtime.errors import GraphError
from runtime.nodes.subgraph import child_run_id


def _await(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _child_graph(name: str = "child") -> rt.Graph:
    c = rt.Graph(name)

    @c.node
    def doubled(x: int) -> int:
        return 2 * x

    @c.node
    def plus(doubled: int, k: int = 1) -> int:
        return doubled + k

    @c.node
    def labelled(x: int) -> str:
        return f"x={x}"

    return c


def test_outputs_dict_and_inputs_mapping(client: rt.Client) -> None:
    p = rt.Graph("parent")

    @p.node
    def numbers(n: int) -> int:
        return n + 1

    p.add("enrich", _child_graph(), inputs={"x": "numbers"})  # k: the parent's run input

    @p.node
    def total(enrich: dict) -> int:
        return enrich["plus"] * 10

    run = client.start(p, {"n": 2, "k": 5}).wait(timeout=30)
    assert run.status == "succeeded", run.error
    assert run.output("enrich") == {"plus": 2 * 3 + 5, "labelled": "x=3"}
    assert run.outputs == {"total": 110}

    (child,) = run.children
    assert child.id == child_run_id(run.id, "enrich") == run.nodes["enrich"].child_run
    assert child.status == "succeeded"
    assert child.workflow == "child"
    assert child.record.trigger == "subgraph"
    assert child.parent is not None and child.parent.id == run.id
    assert child.parent_node == "enrich"
    assert child.inputs == {"x": 3, "k": 5}
    assert run.parent is None
    # the child's version is stored like any graph's
    assert client.store.find_version("child").version == _child_graph().version
    child_version = client.store.get_version(child.record.version_id).version
    assert run.spec["nodes"][1]["subgraph"] == {"workflow": "child", "version": child_version}


def test_published_workflow_by_name_and_version(client: rt.Client) -> None:
    version = client.publish(_child_graph("published_child")).version
    p = rt.Graph("by_name")

    @p.node
    def x() -> int:
        return 4

    p.add("enrich", f"published_child@{version}", inputs={"k": "x"})
    run = client.start(p, {}).wait(timeout=30)
    assert run.status == "succeeded", run.error
    assert run.output("enrich") == {"plus": 12, "labelled": "x=4"}

    with pytest.raises(GraphError, match="published_child@nope"):
        rt.Graph("bad").add("enrich", "published_child@nope")
    with pytest.raises(GraphError, match="no_such_workflow"):
        rt.Graph("bad").add("enrich", "no_such_workflow")


def test_build_time_errors_name_the_problem() -> None:
    p = rt.Graph("parent")
    with pytest.raises(GraphError, match="'y', which is no run input of sub-graph 'child'"):
        p.add("enrich", _child_graph(), inputs={"y": "numbers"})
    with pytest.raises(GraphError, match="cannot contain itself"):
        p.add("me", p)
    with pytest.raises(GraphError, match="a sub-graph node takes no timeout"):
        p.add("slow", _child_graph(), timeout=5)
    empty = rt.Graph("empty")
    with pytest.raises(GraphError, match="sub-graph 'empty' is invalid"):
        p.add("e", empty)


def test_failed_child_fails_the_parent_node_and_retry_retries_the_child(
    client: rt.Client, tmp_path: Path
) -> None:
    flag = tmp_path / "fixed"
    calls: list[str] = []
    c = rt.Graph("flaky_child")

    @c.node
    def first(x: int) -> int:
        calls.append("first")
        return x

    @c.node
    def second(first: int) -> int:
        calls.append("second")
        if not flag.exists():
            raise ValueError("not yet")
        return first * 7

    p = rt.Graph("parent_of_flaky")
    p.add("enrich", c)

    @p.node
    def after(enrich: dict) -> int:
        return enrich["second"]

    run = client.start(p, {"x": 3}).wait(timeout=30)
    assert run.status == "failed"
    child_id = child_run_id(run.id, "enrich")
    node = run.nodes["enrich"]
    assert node.status == "failed"
    assert node.error_type == "ChildRunFailed"
    assert child_id in (node.error or "") and "second" in (node.error or "")
    assert run.nodes["after"].status == "skipped"
    assert client.get_run(child_id).status == "failed"

    flag.touch()
    run = client.retry(run.id).wait(timeout=30)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"after": 21}
    # the same child, retried: its succeeded node did not run again
    assert [c.id for c in run.children] == [child_id]
    assert calls == ["first", "second", "second"]
    assert run.nodes["enrich"].attempts == 2


def test_node_retries_retry_the_child(client: rt.Client) -> None:
    attempts: list[int] = []
    c = rt.Graph("once_failing")

    @c.node
    def only() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first time")
        return 5

    p = rt.Graph("retrying_parent")
    p.add("enrich", c, retries=1)
    run = client.start(p, {}).wait(timeout=30)
    assert run.status == "succeeded", run.error
    assert run.output("enrich") == {"only": 5}
    assert len(run.children) == 1 and len(attempts) == 2


def _blocking_child(started: threading.Event, release: threading.Event) -> rt.Graph:
    c = rt.Graph("slow_child")

    @c.node
    def slow() -> int:
        started.set()
        release.wait(30)
        return 1

    @c.node
    def later(slow: int) -> int:
        return slow

    return c


def test_cancelling_the_parent_cancels_its_child(client: rt.Client) -> None:
    started, release = threading.Event(), threading.Event()
    p = rt.Graph("cancel_parent")
    p.add("enrich", _blocking_child(started, release))
    run = client.start(p, {})
    assert started.wait(30)
    child = client.get_run(child_run_id(run.id, "enrich"))
    _await(lambda: run.status == "in_subgraph")
    assert child.parent is not None and child.status == "running"
    assert run.cancel() == "cancelled"
    release.set()
    child.wait(timeout=30)
    assert child.status == "cancelled"
    assert run.wait(timeout=30).status == "cancelled"
    assert run.nodes["enrich"].status == "cancelled"


def test_cancelling_the_child_fails_the_parent_node(client: rt.Client) -> None:
    started, release = threading.Event(), threading.Event()
    p = rt.Graph("parent_of_cancelled")
    p.add("enrich", _blocking_child(started, release))
    run = client.start(p, {})
    assert started.wait(30)
    child = client.get_run(child_run_id(run.id, "enrich"))
    child.cancel()
    release.set()
    run.wait(timeout=30)
    assert child.wait(timeout=30).status == "cancelled"
    assert run.status == "failed"
    assert run.nodes["enrich"].error_type == "ChildRunCancelled"
    assert child.id in (run.nodes["enrich"].error or "")


def test_parent_parks_without_a_pass_while_the_child_runs(client: rt.Client) -> None:
    started, release = threading.Event(), threading.Event()
    p = rt.Graph("parked_parent")
    p.add("enrich", _blocking_child(started, release))
    run = client.start(p, {})
    assert started.wait(30)
    _await(lambda: run.status == "in_subgraph")
    record = run.record
    assert record.lease_owner is None  # no pass, no worker holds it
    assert run.nodes["enrich"].status == "waiting"
    waiting = [e for e in run.events() if e["type"] == "node.waiting"]
    assert waiting[-1]["data"]["child_run"] == child_run_id(run.id, "enrich")
    release.set()
    assert run.wait(timeout=30).status == "succeeded"
    assert run.output("enrich") == {"later": 1}


CRASHY = textwrap.dedent(
    """
    import sys
    import threading
    from pathlib import Path
    import runtime as rt

    effects = Path(sys.argv[1])

    def record(name: str) -> None:
        with effects.open("a") as f:
            f.write(f"{name}:{rt.current().attempt}\\n")

    child = rt.Graph("crash_child")

    @child.node
    def one(x: int) -> int:
        record("one")
        return x + 1

    @child.node
    def two(one: int) -> int:
        record("two")
        if not (effects.parent / "resumed").exists():
            (effects.parent / "two-started").touch()
            threading.Event().wait()   # blocks until the process is killed
        return one * 10

    parent = rt.Graph("crash_parent")

    @parent.node
    def before(x: int) -> int:
        record("before")
        return x

    parent.add("enrich", child, inputs={"x": "before"})

    @parent.node
    def after(enrich: dict) -> int:
        record("after")
        return enrich["two"] + 1

    run = parent.run(x=1)
    print(run.id, flush=True)
    run.wait()
    """
)


def test_kill_mid_subgraph_resumes_the_same_child(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "crashy.py"
    script.write_text(CRASHY)
    effects = tmp_path / "effects.txt"
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(effects)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    _await(lambda: (tmp_path / "two-started").exists())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sorted(effects.read_text().split()) == ["before:1", "one:1", "two:1"]

    (tmp_path / "resumed").touch()
    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr

    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        run.wait(timeout=60)
        assert run.status == "succeeded", run.error
        assert run.outputs == {"after": 21}
        # one child, ever; what succeeded before the kill did not run again
        assert [c.id for c in run.children] == [child_run_id(run_id, "enrich")]
        assert len(client.store.children(run_id)) == 1
        assert sorted(effects.read_text().split()) == [
            "after:1",
            "before:1",
            "one:1",
            "two:1",
            "two:2",
        ]
    finally:
        client.close()


def test_views_link_parent_and_child(client: rt.Client) -> None:
    from runtime import api, report
    from studio import data

    p = rt.Graph("viewed_parent")
    p.add("enrich", _child_graph())
    run = client.start(p, {"x": 1}).wait(timeout=30)
    child_id = child_run_id(run.id, "enrich")

    page = str(report.render(run))
    assert f'data-child-run="{child_id}"' in page
    assert f"child run {child_id[:12]} (child): succeeded · 3/3 nodes done" in page
    assert f"child of run {run.id[:12]} (node enrich)" in str(
        report.render(client.get_run(child_id))
    )

    header = data.run_header(client, run.id)
    assert header is not None
    assert [(c.node, c.href) for c in header.children] == [("enrich", f"/runs/{child_id}")]
    assert "succeeded" in header.children[0].nodes  # expanded: the child's own nodes
    detail_of_node = data.node_detail(client, run.id, "enrich", run.spec)
    assert detail_of_node.child_href == f"/runs/{child_id}"
    assert "succeeded · 3/3 nodes done" in detail_of_node.child
    child_header = data.run_header(client, child_id)
    assert child_header is not None and child_header.parent_href == f"/runs/{run.id}"

    detail = api.run_detail(run)
    assert detail.children == [child_id]
    assert next(n for n in detail.nodes if n.name == "enrich").child_run == child_id
    assert api.run_detail(client.get_run(child_id)).parent_run_id == run.id
    assert run.waiting == {}


def test_notebook_view_nests_the_child_run_and_follows_it(sqlite_client: rt.Client) -> None:
    from runtime.notebook.view import RunView, wait_until

    started, release = threading.Event(), threading.Event()
    p = rt.Graph("viewed_in_notebook")
    p.add("enrich", _blocking_child(started, release))
    run = sqlite_client.start(p, {})
    view = RunView(run)
    child_id = child_run_id(run.id, "enrich")
    wait_until(lambda: "running · 0/2 nodes done" in view.table.value, timeout=10)
    assert f"data-child-run='{child_id}'" in view.table.value
    assert not view.forms.children  # nobody answers a sub-graph node
    release.set()
    # the child's own events move its line on, then the parent ends
    wait_until(lambda: "data-state='finished'" in view.banner.value, timeout=20)
    wait_until(lambda: "succeeded · 2/2 nodes done" in view.table.value, timeout=10)
    assert "<li>later: succeeded</li>" in view.table.value


def test_starting_a_child_again_finds_the_one_there(client: rt.Client) -> None:
    """What a pass resumed after a kill between its checkpoint and the child's creation
    does: ``start_child`` again, for the same id, never makes a second child."""
    from runtime.store.contract import NewRun

    started, release = threading.Event(), threading.Event()
    p = rt.Graph("started_twice")
    p.add("enrich", _blocking_child(started, release))
    run = client.start(p, {})
    assert started.wait(30)
    child_id = child_run_id(run.id, "enrich")
    version = client.store.find_version("slow_child")
    again = NewRun(
        version, {}, "subgraph", None, run_id=child_id, parent_run_id=run.id, parent_node="enrich"
    )
    record, events = client.store.start_child(again, 16_384)
    assert record.id == child_id and record.status == "running" and events == []
    assert [c.id for c in client.store.children(run.id)] == [child_id]
    release.set()
    assert run.wait(timeout=30).status == "succeeded"
    # a new attempt of a node whose child succeeded gets the same outputs, no new child
    record, _ = client.store.start_child(again, 16_384)
    assert record.status == "succeeded"
    assert len(client.store.children(run.id)) == 1


def test_a_child_ending_while_its_parent_waits_for_a_person_goes_on_at_once(
    client: rt.Client,
) -> None:
    gate = threading.Event()
    child = rt.Graph("slow_child")

    @child.node
    def work(x: int) -> int:
        assert gate.wait(20)
        return x * 2

    parent = rt.Graph("waits_and_nests")
    parent.wait("approve", {"ok": bool})
    parent.add("sub", child, inputs={"x": "x"})

    @parent.node
    def doubled(sub: dict) -> int:
        return sub["work"]

    @parent.node
    def final(approve: dict, doubled: int) -> int:
        return doubled

    run = parent.run(x=21)
    _await(lambda: run.status == "waiting")  # a person's answer is what it shows first
    gate.set()
    # the child's end queues its parent although the parent waits for the person too: what
    # follows the sub-graph runs now, not once someone answers
    _await(lambda: run.nodes["doubled"].status == "succeeded")
    assert run.nodes["approve"].status == "waiting"
    _await(lambda: run.status == "waiting")
    assert run.resume("approve", {"ok": True}).wait(30).outputs == {"final": 42}
