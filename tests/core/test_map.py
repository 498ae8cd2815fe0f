"""Map nodes: ``g.map(name, fn, over=...)`` runs ``fn`` once per element of a list made at run
time, each element its own checkpointed attempt (with its own retries), results in input
order. Side effects are counted in files, so what ran again is plain; both stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import runtime as rt
from runtime.errors import GraphError


def _counts(ledger: Path) -> Counter[int]:
    return (
        Counter(int(line) for line in ledger.read_text().split()) if ledger.exists() else Counter()
    )


def _record(ledger: Path, index: int) -> None:
    with ledger.open("a") as f:
        f.write(f"{index}\n")


def test_results_come_back_in_input_order_and_feed_downstream(client: rt.Client) -> None:
    g = rt.Graph("squares")

    @g.node
    def numbers(n: int) -> list[int]:
        return list(range(n))

    def scaled(numbers: int, factor: int) -> int:
        time.sleep(0.001 * (numbers % 3))  # elements end out of order
        return numbers**2 * factor

    g.map("squares", scaled, over="numbers", concurrency=4)

    @g.node
    def total(squares: list[int]) -> int:
        return sum(squares)

    run = g.run(n=30, factor=2).wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("squares") == [i * i * 2 for i in range(30)]
    assert run.outputs == {"total": sum(i * i * 2 for i in range(30))}
    # the map is one node of the run; its elements are rows of their own
    assert run.nodes["squares"].kind == "map" and run.nodes["squares"].attempts == 1
    elements = client.store.element_attempts(run.id, "squares")
    assert [r.element for r in elements] == list(range(30))
    assert {r.node for r in elements} == {f"squares[{i}]" for i in range(30)}
    progress = [e for e in run.events() if e["type"] == "map.progress"]
    assert progress[-1]["data"] | {"failures": []} == {
        "total": 30,
        "succeeded": 30,
        "failed": 0,
        "running": 0,
        "failures": [],
    }
    spec = next(n for n in run.spec["nodes"] if n["name"] == "squares")
    assert spec["options"] == {
        "over": "numbers",
        "concurrency": 4,
        "on_error": "fail",
        "retries": 0,
        "backoff": 1.0,
        "timeout": None,
    }


def test_the_decorator_form_and_an_empty_list(client: rt.Client) -> None:
    g = rt.Graph("decorated")

    @g.node
    def words(text: str) -> list[str]:
        return text.split()

    @g.map(over="words")
    def lengths(words: str) -> int:
        return len(words)

    assert g.run(text="map it all").wait(30).output("lengths") == [3, 2, 3]
    assert g.run(text="").wait(30).output("lengths") == []


def test_concurrency_bounds_the_elements_executing_at_once(client: rt.Client) -> None:
    g = rt.Graph("bounded")
    lock = threading.Lock()
    now, peak = [0], [0]

    @g.node
    def items() -> list[int]:
        return list(range(24))

    @g.map(over="items", concurrency=3)
    def slow(items: int) -> int:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.01)
        with lock:
            now[0] -= 1
        return items

    assert g.run().wait(60).output("slow") == list(range(24))
    assert peak[0] == 3


def test_each_element_retries_on_its_own(client: rt.Client, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    g = rt.Graph("flaky_elements")

    @g.node
    def items() -> list[int]:
        return list(range(6))

    @g.map(over="items", retries=2, backoff=0)
    def flaky(items: int, ledger: str) -> int:
        _record(Path(ledger), items)
        if items % 2 and rt.current().attempt == 1:
            raise ConnectionError(f"element {items} blinked")
        return items * 10

    run = g.run(ledger=str(ledger)).wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("flaky") == [0, 10, 20, 30, 40, 50]
    assert _counts(ledger) == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2}
    latest = {r.element: r.attempt for r in client.store.element_attempts(run.id, "flaky")}
    assert latest == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2}
    assert run.nodes["flaky"].attempts == 1  # the map node itself was never retried


def _failing_graph(name: str, on_error: str) -> rt.Graph:
    g = rt.Graph(name)

    @g.node
    def items() -> list[int]:
        return list(range(8))

    def picky(items: int, ledger: str, fix: str) -> int:
        _record(Path(ledger), items)
        if items in (2, 5) and not Path(fix).exists():
            raise ValueError(f"no {items}")
        return items + 100

    g.map("picky", picky, over="items", on_error=on_error)

    @g.node
    def after(picky: list[int | None]) -> int:
        return sum(x for x in picky if x is not None)

    return g


def test_a_failed_element_fails_the_map_naming_its_index_and_a_retry_runs_only_it(
    client: rt.Client, tmp_path: Path
) -> None:
    ledger, fix = tmp_path / "ledger", tmp_path / "fix"
    g = _failing_graph("fail_map", "fail")
    run = g.run(ledger=str(ledger), fix=str(fix)).wait(60)
    assert run.status == "failed"
    node = run.nodes["picky"]
    assert node.status == "failed" and node.error_type == "MapError"
    assert node.error == (
        "map node 'picky': 2 of 8 element(s) failed: [2] ValueError: no 2; [5] ValueError: no 5"
    )
    assert run.nodes["after"].status == "skipped"
    failures = [
        f for e in run.events() if e["type"] == "map.progress" for f in e["data"]["failures"]
    ]
    assert sorted(f[0] for f in failures) == [2, 5]

    fix.touch()
    again = run.retry().wait(60)
    assert again.status == "succeeded", again.error
    assert again.output("picky") == [i + 100 for i in range(8)]
    # the succeeded elements were kept: only the failed ones ran again
    assert _counts(ledger) == {0: 1, 1: 1, 2: 2, 3: 1, 4: 1, 5: 2, 6: 1, 7: 1}


def test_collect_goes_on_with_the_successes(client: rt.Client, tmp_path: Path) -> None:
    g = _failing_graph("collect_map", "collect")
    run = g.run(ledger=str(tmp_path / "ledger"), fix=str(tmp_path / "fix")).wait(60)
    assert run.status == "succeeded", run.error
    expected = [None if i in (2, 5) else i + 100 for i in range(8)]
    assert run.output("picky") == expected
    assert run.outputs == {"after": sum(x for x in expected if x is not None)}
    (errors,) = [d for d in run.documents if d.name == "errors"]
    assert errors.node == "picky"
    assert errors.value == {"2": "ValueError: no 2", "5": "ValueError: no 5"}


def test_an_element_attempt_times_out_on_its_own(client: rt.Client) -> None:
    g = rt.Graph("timed")

    @g.node
    def items() -> list[float]:
        return [0.0, 2.0, 0.0]

    @g.map(over="items", timeout=0.3, on_error="collect")
    def nap(items: float) -> float:
        time.sleep(items)
        return items

    run = g.run().wait(60)
    assert run.output("nap") == [0.0, None, 0.0]
    (errors,) = [d for d in run.documents if d.name == "errors"]
    assert errors.value["1"].startswith("TimeoutError: element 1 of map node 'nap' exceeded")


def test_async_elements_run_on_the_loop(client: rt.Client) -> None:
    import asyncio

    g = rt.Graph("async_map")

    @g.node
    def items() -> list[int]:
        return [1, 2, 3]

    @g.map(over="items")
    async def doubled(items: int) -> int:
        await asyncio.sleep(0.001)
        return items * 2

    assert g.run().wait(30).output("doubled") == [2, 4, 6]


def test_a_map_over_something_not_a_list_fails_saying_so(client: rt.Client) -> None:
    g = rt.Graph("not_a_list")

    @g.node
    def items() -> int:
        return 3

    @g.map(over="items")
    def each(items: int) -> int:
        return items

    run = g.run().wait(30)
    assert (
        run.nodes["each"].error == "map node 'each': 'items' must give a list to map over, got int"
    )


def test_bad_maps_are_refused_when_built() -> None:
    g = rt.Graph("bad")

    def f(x: int) -> int:
        return x

    with pytest.raises(GraphError, match=r"map node 'm': f\(\) has no parameter 'items'"):
        g.map("m", f, over="items")
    with pytest.raises(GraphError, match="map node 'm': on_error"):
        g.map("m", f, over="x", on_error="ignore")
    with pytest.raises(GraphError, match="map node 'm': concurrency"):
        g.map("m", f, over="x", concurrency=0)
    with pytest.raises(GraphError, match="cannot be rewired"):
        g.map("m", f, over="x", inputs={"x": "y"})
    assert "m" not in g.nodes


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import runtime as rt

    ledger = Path(sys.argv[1])
    g = rt.Graph("crashy_map")

    @g.node
    def items() -> list[int]:
        return list(range(40))

    @g.map(over="items", concurrency=4)
    def slow(items: int) -> int:
        time.sleep(0.05)
        with ledger.open("a") as f:
            f.write(f"{items}\\n")
        return items * 3

    run = g.run()
    print(run.id, flush=True)
    run.wait()
    """
)


def test_a_map_killed_midway_runs_only_its_unfinished_elements(db_url: str, tmp_path: Path) -> None:
    script, ledger = tmp_path / "crashy_map.py", tmp_path / "ledger"
    script.write_text(CHILD)
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(ledger)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    watcher = rt.connect(db_url, home=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:  # kill once a dozen elements are checkpointed
            done = [
                r for r in watcher.store.element_attempts(run_id, "slow") if r.status == "succeeded"
            ]
            if len(done) >= 12:
                checkpointed = {r.element for r in done}
                break
            assert time.monotonic() < deadline, "the map made no progress"
            time.sleep(0.01)
    finally:
        watcher.close()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = _counts(ledger)
    assert 12 <= len(before) < 40

    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert f"run {run_id}: succeeded" in recovered.stdout

    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        assert run.output("slow") == [i * 3 for i in range(40)]
        after = _counts(ledger)
        assert set(after) == set(range(40))
        # no element checkpointed before the kill ran again; the rest ran once, but for an
        # element cut off between its side effect and its checkpoint (at most those in flight)
        assert all(after[i] == 1 for i in checkpointed)
        assert sum(after.values()) - 40 <= 4
        assert run.nodes["slow"].attempts == 2
    finally:
        client.close()


def test_cancelling_mid_map_closes_its_elements(client: rt.Client, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    g = rt.Graph("cancel_map")

    @g.node
    def items() -> list[int]:
        return list(range(200))

    @g.map(over="items", concurrency=4)
    def slow(items: int, ledger: str) -> int:
        time.sleep(0.02)
        _record(Path(ledger), items)
        return items

    run = g.run(ledger=str(ledger))
    deadline = time.monotonic() + 60
    while len(_counts(ledger)) < 8:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.cancel()
    assert run.wait(60).status == "cancelled"
    assert run.nodes["slow"].status == "cancelled"
    deadline = time.monotonic() + 30
    while True:  # the threads still running at the cancel return, then let go of their leases
        rows = client.store.element_attempts(run.id, "slow")
        if all(r.lease_until is None for r in rows):
            break
        assert time.monotonic() < deadline, [r for r in rows if r.lease_until]
        time.sleep(0.05)
    assert {r.status for r in rows} <= {"succeeded", "cancelled"}
    assert len(rows) < 200  # the rest never started
    ran = len(_counts(ledger))
    time.sleep(0.2)
    assert len(_counts(ledger)) == ran  # nothing runs on after the cancel


def test_a_timed_out_element_is_retried_only_once_its_code_returned(
    client: rt.Client, tmp_path: Path
) -> None:
    spans = tmp_path / "spans"
    g = rt.Graph("timed_retry")

    @g.node
    def items() -> list[int]:
        return [0]

    @g.map(over="items", timeout=0.2, retries=1, backoff=0)
    def sticky(items: int, spans: str) -> int:
        attempt = rt.current().attempt
        began = time.monotonic()
        if attempt == 1:
            time.sleep(0.6)  # past the timeout: the thread runs on
        with Path(spans).open("a") as f:
            f.write(f"{attempt} {began} {time.monotonic()}\n")
        return attempt

    run = g.run(spans=str(spans)).wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("sticky") == [2]
    (first, second) = sorted(
        tuple(map(float, line.split())) for line in spans.read_text().splitlines()
    )
    assert second[1] >= first[2]  # the second attempt began after the first one's code ended
