"""What the scheduler promises while it stays linear in the node count: ready nodes start in
topological order (ties in declaration order) within the concurrency limit, a node behind a
failure is skipped as soon as that failure is known (not once its other inputs end), and a
wide join runs once every input has succeeded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtime as rt
from runtime import client as client_module
from tests.conftest import make_client


@pytest.fixture
def narrow(db_url: str, tmp_path: Path) -> Iterator[rt.Client]:
    """A client that runs at most 3 nodes of a run at once."""
    c = make_client(db_url, tmp_path, node_concurrency=3)
    yield c
    c.close()
    client_module._default = None


def _until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_ready_nodes_start_in_declaration_order_within_the_limit(narrow: rt.Client) -> None:
    lock, running, peak = threading.Lock(), [0], [0]

    def leaf(src: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)  # the work itself: long enough for the slots to fill
        with lock:
            running[0] -= 1
        return src

    g = rt.Graph("wide")
    g.add("src", lambda x: x)
    names = [f"leaf{i:02d}" for i in range(24)]
    for name in reversed(names[12:]):  # declared out of name order: declaration order wins
        g.add(name, leaf)
    for name in names[:12]:
        g.add(name, leaf)
    run = narrow.start(g, {"x": 1}).wait(60)
    assert run.status == "succeeded", run.error
    started = [e["node"] for e in run.events() if e["type"] == "node.running"]
    assert started == ["src", *reversed(names[12:]), *names[:12]]
    assert peak[0] == 3


def test_a_node_behind_a_failure_is_skipped_before_its_other_inputs_end(
    client: rt.Client,
) -> None:
    release = threading.Event()

    def slow(a: int) -> int:
        assert release.wait(30)
        return a

    def bad(a: int) -> int:
        raise ValueError("no")

    g = rt.Graph("join_behind_failure")
    g.add("a", lambda x: x)
    g.add("slow", slow)
    g.add("bad", bad)
    g.add("join", lambda slow, bad: slow + bad)
    g.add("after_join", lambda join: join)
    run = client.start(g, {"x": 1})
    try:
        _until(lambda: run.nodes["join"].status == "skipped")
        assert run.nodes["slow"].status == "running"
    finally:
        release.set()
    run.wait(30)
    assert run.status == "failed"
    assert run.nodes["slow"].status == "succeeded"
    assert run.nodes["after_join"].status == "skipped"
    skipped = [e for e in run.events() if e["type"] == "node.skipped"]
    assert skipped[0]["node"] == "join"
    assert skipped[0]["data"]["reason"] == "upstream node 'bad' did not succeed"


def test_a_wide_join_runs_once_with_every_input(client: rt.Client) -> None:
    width = 300
    g = rt.Graph("wide_join")
    g.add("src", lambda x: x)
    for i in range(width):
        g.add(f"w{i}", lambda src, i=i: src + i, inputs={"src": "src"})
    params = ", ".join(f"w{i}" for i in range(width))
    namespace: dict = {}
    exec(f"def join({params}):\n    return [{params}]", namespace)
    g.add("join", namespace["join"])
    run = client.start(g, {"x": 1}).wait(120)
    assert run.status == "succeeded", run.error
    assert run.output("join") == [1 + i for i in range(width)]
    assert run.nodes["join"].attempts == 1
