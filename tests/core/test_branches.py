"""Branches (``@g.branch``): a node that decides which successors run. The others are
skipped as untaken, and so is what only they lead to; joins run on their taken inputs; the
decision is a checkpoint, so a resumed or retried run takes the same path. On SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest

import runtime as rt
from runtime.statuses import spec_deps, untaken_nodes
from tests.core.test_crash import _await, _env


def _routed() -> tuple[rt.Graph, Counter[str]]:
    """``route`` picks ``big`` or ``small``; ``shout`` follows ``big`` only; ``report`` joins
    both paths with ``join="any"``; ``audit`` joins them with the default ``join="all"``."""
    calls: Counter[str] = Counter()
    g = rt.Graph("routed")

    @g.branch
    def route(amount: float) -> str:
        calls["route"] += 1
        return "big" if amount > 100 else "small"

    @g.node
    def big(route: str, amount: float) -> str:
        calls["big"] += 1
        return f"big {amount:g}"

    @g.node
    def small(route: str, amount: float) -> str:
        calls["small"] += 1
        return f"small {amount:g}"

    @g.node
    def shout(big: str) -> str:
        calls["shout"] += 1
        return big.upper()

    @g.node(join="any")
    def report(route: str, big: str | None, small: str = "no small") -> str:
        calls["report"] += 1
        return f"{route}: {big} / {small}"

    @g.node
    def audit(big: str, small: str) -> str:
        calls["audit"] += 1
        return "both"

    return g, calls


def test_a_branch_takes_one_successor_and_skips_the_others(client: rt.Client) -> None:
    g, calls = _routed()
    run = g.run(amount=500).wait(30)
    assert run.status == "succeeded", run.error
    nodes = run.nodes
    assert {n: i.status for n, i in nodes.items()} == {
        "route": "succeeded",
        "big": "succeeded",
        "small": "skipped",
        "shout": "succeeded",
        "report": "succeeded",
        "audit": "skipped",
    }
    assert nodes["small"].error == "not taken: branch 'route' took big"
    assert "untaken" in (nodes["audit"].error or "") and "small" in (nodes["audit"].error or "")
    # join="any": the untaken input gets the parameter's default (or None without one)
    assert run.output("report") == "big: big 500 / no small"
    assert calls == Counter(route=1, big=1, shout=1, report=1)
    skipped = {e["node"]: e["data"] for e in run.events() if e["type"] == "node.skipped"}
    assert skipped["small"]["untaken"] is True and skipped["audit"]["untaken"] is True
    took = [
        e["data"] for e in run.events() if e["type"] == "node.succeeded" and e["node"] == "route"
    ]
    assert took[0]["took"] == ["big"]


def test_the_skipped_subtree_follows_the_path_not_taken(client: rt.Client) -> None:
    g, calls = _routed()
    run = g.run(amount=5).wait(30)
    assert run.status == "succeeded", run.error
    statuses = {n: i.status for n, i in run.nodes.items()}
    assert statuses["big"] == statuses["shout"] == statuses["audit"] == "skipped"
    assert run.nodes["shout"].error == "on an untaken branch path (after big)"
    assert run.output("report") == "small: None / small 5"
    assert run.outputs == {"report": "small: None / small 5"}  # skipped sinks give none
    assert "big" not in calls and "shout" not in calls
    # the views' rule finds the same untaken nodes as the engine
    assert untaken_nodes(spec_deps(run.spec), statuses) == {"big", "shout", "audit"}


def test_a_branch_may_take_several_successors(client: rt.Client) -> None:
    g = rt.Graph("fan")

    @g.branch
    def pick(which: list[str]) -> list[str]:
        return which

    @g.node
    def a(pick: list[str]) -> str:
        return "a"

    @g.node
    def b(pick: list[str]) -> str:
        return "b"

    @g.node
    def c(pick: list[str]) -> str:
        return "c"

    @g.node(join="any")
    def done(a: str | None, b: str | None, c: str | None) -> list[str | None]:
        return [a, b, c]

    run = g.run(which=["a", "c"]).wait(30)
    assert run.status == "succeeded", run.error
    assert run.nodes["b"].status == "skipped"
    assert run.nodes["b"].error == "not taken: branch 'pick' took a, c"
    assert run.output("done") == ["a", None, "c"]

    nothing = g.run(which=[]).wait(30)  # an empty list takes no path
    assert nothing.status == "succeeded", nothing.error
    assert {n: i.status for n, i in nothing.nodes.items()} == {
        "pick": "succeeded",
        "a": "skipped",
        "b": "skipped",
        "c": "skipped",
        "done": "skipped",
    }


def test_a_node_two_branches_choose_among_runs_as_its_join_says(client: rt.Client) -> None:
    g = rt.Graph("two_branches")

    @g.branch
    def first(to: str) -> str:
        return to

    @g.branch
    def second(to: str) -> str:
        return "shared"

    @g.node(join="any")
    def shared(first: str, second: str) -> str:
        return f"{first}+{second}"

    @g.node
    def strict(first: str, second: str) -> str:  # join="all": each branch must take it
        return "strict"

    @g.node
    def elsewhere(first: str) -> str:
        return "elsewhere"

    run = g.run(to="elsewhere").wait(30)
    assert run.status == "succeeded", run.error
    # first did not take shared, second did: join="any" runs it, with both decisions
    assert run.output("shared") == "elsewhere+shared"
    assert run.nodes["strict"].status == "skipped"
    assert run.nodes["strict"].error in (  # neither took it; whichever decided first says so
        "not taken: branch 'first' took elsewhere",
        "not taken: branch 'second' took shared",
    )


def test_an_invalid_choice_fails_the_branch_naming_the_valid_ones(client: rt.Client) -> None:
    g = rt.Graph("bad_choice")

    @g.branch(retries=2, backoff=0)
    def route(x: int) -> str:
        return "nowhere" if x else 42  # type: ignore[return-value]

    @g.node
    def left(route: str) -> int:
        return 1

    @g.node
    def right(route: str) -> int:
        return 2

    run = g.run(x=1).wait(30)
    assert run.status == "failed"
    info = run.nodes["route"]
    assert info.status == "failed" and info.attempts == 1  # the decision is wrong, not flaky
    assert info.error_type == "BranchError"
    assert info.error == (
        "branch 'route' returned 'nowhere', which is not among its successors (one of: left, right)"
    )
    # a failure upstream skips as before: not untaken
    assert run.nodes["left"].error == "upstream node 'route' did not succeed"
    skipped = [e["data"] for e in run.events() if e["type"] == "node.skipped"]
    assert skipped and not any(d.get("untaken") for d in skipped)

    wrong_type = g.run(x=0).wait(30)
    assert "must return the name of a successor or a list of names" in (
        wrong_type.nodes["route"].error or ""
    )


def test_a_failure_on_the_taken_path_still_fails_the_run_and_skips_joins(
    client: rt.Client,
) -> None:
    g = rt.Graph("taken_fails")

    @g.branch
    def route() -> str:
        return "boom"

    @g.node
    def boom(route: str) -> int:
        raise RuntimeError("broken")

    @g.node
    def calm(route: str) -> int:
        return 1

    @g.node(join="any")
    def join(boom: int | None, calm: int | None) -> str:
        return "ran"

    run = g.run().wait(30)
    assert run.status == "failed"
    assert run.nodes["calm"].error == "not taken: branch 'route' took boom"
    # join="any" tolerates untaken inputs only: a failed one skips it as before
    assert run.nodes["join"].status == "skipped"
    assert run.nodes["join"].error == "upstream node 'boom' did not succeed"


def test_build_time_checks() -> None:
    lonely = rt.Graph("lonely")

    @lonely.branch
    def route() -> str:
        return "x"

    with pytest.raises(rt.GraphError, match="branch 'route' has no successors to choose from"):
        lonely.validate()

    g = rt.Graph("declared")

    @g.branch
    def route2() -> Literal["left", "middle"]:
        return "left"

    @g.node
    def left(route2: str) -> int:
        return 1

    with pytest.raises(rt.GraphError, match="'middle', which is not among its successors"):
        g.validate()

    with pytest.raises(rt.GraphError, match="join must be one of all, any"):
        rt.Graph("j").add("n", lambda: 1, join="some")  # type: ignore[arg-type]


def test_a_join_reading_the_branch_is_not_one_of_its_choices() -> None:
    g, _ = _routed()
    assert g.plan.choices == {"route": ("big", "small")}
    spec = {n["name"]: n for n in g.spec()["nodes"]}
    assert spec["route"]["kind"] == "branch" and spec["route"]["choices"] == ["big", "small"]
    assert spec["report"]["join"] == "any"
    assert "join" not in spec["audit"] and "choices" not in spec["big"]


def test_graphs_without_branches_keep_their_spec_entries() -> None:
    g = rt.Graph("plain")

    @g.node
    def a() -> int:
        return 1

    @g.node
    def b(a: int) -> int:
        return a

    keys = {k for n in g.spec()["nodes"] for k in n}
    assert keys == {"name", "kind", "inputs", "after", "depends_on", "policies", "code", "doc"}


def test_a_retried_run_keeps_the_decision(client: rt.Client) -> None:
    flaky = {"fail": True}
    g = rt.Graph("retried_branch")
    calls: Counter[str] = Counter()

    @g.branch
    def route() -> str:
        calls["route"] += 1
        return "left"

    @g.node
    def left(route: str) -> str:
        calls["left"] += 1
        if flaky["fail"]:
            raise RuntimeError("not yet")
        return "L"

    @g.node
    def right(route: str) -> str:
        calls["right"] += 1
        return "R"

    run = g.run().wait(30)
    assert run.status == "failed"
    flaky["fail"] = False
    again = run.retry().wait(30)
    assert again.status == "succeeded", again.error
    assert calls == Counter(route=1, left=2)
    assert again.nodes["right"].status == "skipped"
    assert again.nodes["right"].error == "not taken: branch 'route' took left"


def test_a_resumed_run_follows_the_decision_whatever_the_declaration_order(
    client: rt.Client,
) -> None:
    g = rt.Graph("declared_late")

    @g.node  # declared before the node it follows: the plan's order is not this one
    def tail(small: str) -> str:
        return small + "!"

    @g.branch
    def route(amount: float) -> str:
        return "big" if amount > 100 else "small"

    @g.node
    def big(route: str) -> str:
        return "B"

    @g.node
    def small(route: str) -> str:
        return "S"

    g.wait("approve", {"ok": bool}, after=["big"])

    @g.node(join="any")
    def report(approve: dict, big: str | None = None, tail: str | None = None) -> str:
        return f"{big}/{tail}"

    run = g.run(amount=500).wait(30)
    assert run.status == "waiting"  # the pass ended; the next one reads the decision back
    done = run.resume("approve", {"ok": True}).wait(30)
    assert done.status == "succeeded", {n: i.error for n, i in done.nodes.items()}
    assert done.output("report") == "B/None"
    assert done.nodes["tail"].status == "skipped"


CHILD = textwrap.dedent(
    """
    import sys
    import threading
    from pathlib import Path
    import runtime as rt

    effects = Path(sys.argv[1])

    def record(name: str) -> None:
        with effects.open("a") as f:
            f.write(f"{name}:{rt.current().attempt}\\n")

    g = rt.Graph("crashy_branch")

    @g.branch
    def route(amount: int) -> str:
        record("route")
        return "big" if amount > 100 else "small"

    @g.node
    def big(route: str) -> str:
        record("big")
        if rt.current().attempt == 1:
            (effects.parent / "big-started").touch()
            threading.Event().wait()   # blocks until the process is killed
        return "BIG"

    @g.node
    def small(route: str) -> str:
        record("small")
        return "SMALL"

    @g.node
    def after_small(small: str) -> str:
        record("after_small")
        return small

    @g.node(join="any")
    def done(big: str | None, small: str | None) -> str:
        record("done")
        return f"{big}/{small}"

    run = g.run(amount=500)
    print(run.id, flush=True)
    run.wait()
    """
)


def test_a_run_killed_after_its_branch_resumes_on_the_same_path(
    db_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "crashy_branch.py"
    script.write_text(CHILD)
    effects = tmp_path / "effects.txt"
    env = _env(db_url, tmp_path)
    child = subprocess.Popen(
        [sys.executable, str(script), str(effects)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    _await(lambda: (tmp_path / "big-started").exists())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert sorted(effects.read_text().split()) == ["big:1", "route:1"]

    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert f"run {run_id}: succeeded" in recovered.stdout
    # the branch did not run again; the path it took ran on; the other stayed untaken
    assert sorted(effects.read_text().split()) == ["big:1", "big:2", "done:1", "route:1"]

    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        statuses = {n: i.status for n, i in run.nodes.items()}
        assert statuses == {
            "route": "succeeded",
            "big": "succeeded",
            "small": "skipped",
            "after_small": "skipped",
            "done": "succeeded",
        }
        assert run.nodes["small"].error == "not taken: branch 'route' took big"
        assert run.output("done") == "BIG/None"
    finally:
        client.close()


FLOWS = textwrap.dedent(
    """
    import runtime as rt

    g = rt.Graph("cli_branch")

    @g.branch
    def route(amount: float) -> str:
        return "big" if amount > 100 else "small"

    @g.node
    def big(route: str) -> str:
        return "BIG"

    @g.node
    def small(route: str) -> str:
        return "SMALL"
    """
)


def test_the_cli_shows_untaken_nodes_as_skipped_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(FLOWS)
    env = _env(f"sqlite:///{tmp_path / 'plait.db'}", tmp_path / "home")

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ran = plait("run", "flows.py:g", "-i", "amount=500")
    assert ran.returncode == 0, ran.stderr
    assert "small skipped (untaken): not taken: branch 'route' took big" in ran.stdout
    shown = plait("show", ran.stdout.split()[1])
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if x.strip().startswith("small"))
    assert "skipped" in line
    assert "    not taken: branch 'route' took big" in shown.stdout


def parity(n: int) -> str:
    """A branch run in a child process (module level: it travels by reference)."""
    return "odd" if n % 2 else "even"


def test_a_branch_in_a_child_process_and_an_async_branch(client: rt.Client) -> None:
    g = rt.Graph("isolated_branch")
    g.branch(name="route", isolation="process")(parity)

    @g.node
    def odd(route: str) -> str:
        return "odd"

    @g.node
    def even(route: str) -> str:
        return "even"

    run = g.run(n=3).wait(60)
    assert run.status == "succeeded", run.error
    assert run.nodes["even"].status == "skipped" and run.output("odd") == "odd"

    h = rt.Graph("async_branch")

    @h.branch
    async def pick(n: int) -> list[str]:
        return ["a"] if n else ["a", "b"]

    @h.node
    def a(pick: list[str]) -> int:
        return 1

    @h.node
    def b(pick: list[str]) -> int:
        return 2

    assert h.run(n=0).wait(30).outputs == {"a": 1, "b": 2}
    one = h.run(n=1).wait(30)
    assert one.outputs == {"a": 1} and one.nodes["b"].status == "skipped"
