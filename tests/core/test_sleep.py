"""Durable sleeps and wait timeouts: the run parks ``sleeping`` (or ``waiting``) with a wake
time, holding no lease, and the scheduler queues it when due; on SQLite and PostgreSQL.

Time is the scheduler's clock, which the tests step (``runtime.testing.Clock``, given to the
scheduler only: the runs' own times stay real); the sleeps are long enough that no real clock
reaches them during a test."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pydantic
import pytest

import runtime as rt
from runtime.errors import GraphError, RunStateError
from runtime.scheduler import Scheduler
from runtime.statuses import parked_label
from runtime.testing import Clock


def _await(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met in time"
        time.sleep(0.02)


def _status(run: rt.Run, status: str) -> None:
    _await(lambda: run.status == status, what=f"run {run.id} {status} (is {run.status})")


def _waker(client: rt.Client, clock: Clock) -> Scheduler:
    return Scheduler(client, clock=clock, schedules=False)


def counting_graph(name: str, calls: list[str]) -> rt.Graph:
    g = rt.Graph(name)

    @g.node
    def squares(n: int) -> list[int]:
        calls.append("squares")
        return [i * i for i in range(n)]

    g.sleep("cool_off", seconds=30, after=["squares"])

    @g.node
    def total(squares: list[int], cool_off: dt.datetime) -> dict:
        calls.append("total")
        return {"sum": sum(squares), "woke": cool_off.isoformat()}

    return g


def test_a_sleep_parks_the_run_without_a_lease_and_wakes_when_due(client: rt.Client) -> None:
    calls: list[str] = []
    g = counting_graph("napper", calls)
    run = g.run(n=4)
    _status(run, "sleeping")
    record = run.record
    assert record.lease_owner is None and record.lease_until is None
    assert record.wake_at is not None
    node = run.nodes["cool_off"]
    assert node.status == "sleeping" and node.wake_at == record.wake_at
    assert node.label == parked_label("sleeping", record.wake_at)
    assert node.label.startswith("sleeping until ")
    assert run.nodes["total"].status == "pending"
    # sleeping is not settled: wait() keeps waiting through it
    with pytest.raises(TimeoutError):
        run.wait(0.3)

    clock = Clock()
    waker = _waker(client, clock)
    clock.advance(seconds=20)
    waker.tick()
    assert run.status == "sleeping"  # not due yet
    clock.advance(seconds=15)
    waker.tick()
    assert run.wait(20).status == "succeeded"
    assert calls == ["squares", "total"]  # nothing ran twice
    assert run.outputs["total"]["sum"] == 14
    assert dt.datetime.fromisoformat(run.outputs["total"]["woke"]) == record.wake_at
    # stored as ISO 8601 text (the report and the API show it as it is); nodes get a datetime
    assert dt.datetime.fromisoformat(run.output("cool_off")) == record.wake_at
    assert run.record.wake_at is None
    types = [e["type"] for e in run.events()]
    assert "run.sleeping" in types and "node.sleeping" in types
    woke = next(e for e in run.events() if e["type"] == "run.queued" and "woken" in e["data"])
    assert woke["data"]["woken"] == ["cool_off"]


def test_other_branches_run_before_the_run_parks(client: rt.Client) -> None:
    release = threading.Event()
    g = rt.Graph("branches")

    @g.node
    def start() -> int:
        return 1

    g.sleep("nap", seconds=60, after=["start"])

    @g.node
    def slow(start: int) -> int:
        assert release.wait(20)
        return start + 1

    @g.node
    def after_nap(nap: dt.datetime, slow: int) -> int:
        return slow * 10

    run = g.run()
    _await(lambda: run.nodes["nap"].status == "sleeping" and run.nodes["slow"].status == "running")
    assert run.status == "running"  # the other branch still runs: the run does not park yet
    release.set()
    _status(run, "sleeping")
    assert run.nodes["slow"].status == "succeeded"
    clock = Clock()
    clock.advance(seconds=61)
    _waker(client, clock).tick()
    done = run.wait(20)
    assert done.outputs == {"after_nap": 20}, (
        done.status,
        {n: (x.status, x.error) for n, x in run.nodes.items()},
    )


def test_a_short_sleep_ends_in_the_pass_while_other_nodes_run(client: rt.Client) -> None:
    release = threading.Event()
    g = rt.Graph("short")
    g.sleep("blink", seconds=0.2)

    @g.node
    def woke(blink: dt.datetime) -> str:
        release.set()
        return "up"

    @g.node
    def long() -> int:
        assert release.wait(20)  # only the sleep's successor lets it end
        return 1

    run = g.run()
    assert run.wait(20).status == "succeeded"
    assert run.outputs == {"woke": "up", "long": 1}
    assert "run.sleeping" not in [e["type"] for e in run.events()]


def test_sleep_until_a_time_and_until_a_run_input(client: rt.Client) -> None:
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
    g = rt.Graph("alarm")
    g.sleep("fixed", until=at)
    g.sleep("given", until="deadline")

    @g.node
    def done(fixed: dt.datetime, given: dt.datetime) -> list[str]:
        return [fixed.isoformat(), given.isoformat()]

    later = at + dt.timedelta(hours=1)
    run = g.run(deadline=later.isoformat())  # run inputs are JSON: ISO 8601 text
    _status(run, "sleeping")
    assert run.nodes["fixed"].wake_at == at and run.nodes["given"].wake_at == later
    assert run.record.wake_at == at  # the earliest
    clock = Clock()
    clock.move_to(at)
    _waker(client, clock).tick()
    _await(lambda: run.nodes["fixed"].status == "succeeded")
    _status(run, "sleeping")
    assert run.record.wake_at == later
    clock.move_to(later + dt.timedelta(seconds=1))
    _waker(client, clock).tick()
    assert run.wait(20).outputs == {"done": [at.isoformat(), later.isoformat()]}


def test_a_naive_until_input_fails_the_sleep_saying_why(client: rt.Client) -> None:
    g = rt.Graph("naive")
    g.sleep("nap", until="deadline")
    g.node(lambda nap: nap, name="after")
    run = g.run(deadline="2030-01-01T00:00:00").wait(20)
    assert run.status == "failed"
    assert "timezone-aware" in (run.nodes["nap"].error or "")
    # what follows a failed sleep is skipped, as after any failure (not left pending)
    assert run.nodes["after"].status == "skipped"


def test_bad_sleeps_are_refused_at_build_time() -> None:
    g = rt.Graph("bad")
    with pytest.raises(GraphError, match="exactly one of seconds= or until="):
        g.sleep("a")
    with pytest.raises(GraphError, match="naive"):
        g.sleep("b", until=dt.datetime(2030, 1, 1))
    with pytest.raises(GraphError, match="seconds must be"):
        g.sleep("c", seconds=-1)
    with pytest.raises(GraphError, match="default does not match"):
        g.wait("d", {"ok": bool}, timeout=5, default={"ok": "maybe"})
    with pytest.raises(GraphError, match="timeout must be"):
        g.wait("e", {"ok": bool}, timeout=0)


def test_cancel_a_sleeping_run(client: rt.Client) -> None:
    calls: list[str] = []
    run = counting_graph("cancelled_nap", calls).run(n=2)
    _status(run, "sleeping")
    assert run.cancel() == "cancelled"
    assert run.wait(10).status == "cancelled"
    assert run.nodes["cool_off"].status == "cancelled"
    assert run.record.wake_at is None and run.record.lease_owner is None
    clock = Clock()
    clock.advance(seconds=60)
    assert _waker(client, clock).tick() == []
    assert run.status == "cancelled" and calls == ["squares"]


class Approval(pydantic.BaseModel):
    approved: bool
    note: str = ""


def test_a_wait_timeout_takes_its_default(client: rt.Client) -> None:
    g = rt.Graph("auto_approve")
    g.wait("approve", Approval, timeout=dt.timedelta(minutes=10), default={"approved": False})

    @g.node
    def decide(approve: Approval) -> str:
        return f"approved={approve.approved} note={approve.note!r}"

    run = g.run().wait(20)
    assert run.status == "waiting"  # settled: it needs a person (until its timeout)
    node = run.nodes["approve"]
    assert node.wake_at == run.record.wake_at and node.label.startswith("waiting until ")
    clock = Clock()
    clock.advance(minutes=11)
    _waker(client, clock).tick()
    assert run.wait(20).outputs == {"decide": "approved=False note=''"}
    with pytest.raises(RunStateError):  # too late to answer
        run.resume("approve", approved=True)


def test_a_wait_answered_in_time_never_times_out(client: rt.Client) -> None:
    g = rt.Graph("answered")
    g.wait("approve", Approval, timeout=600, default={"approved": False})

    @g.node
    def decide(approve: Approval) -> bool:
        return approve.approved

    run = g.run().wait(20)
    run.resume("approve", approved=True).wait(20)
    assert run.outputs == {"decide": True}
    assert run.record.wake_at is None
    clock = Clock()
    clock.advance(minutes=20)
    assert _waker(client, clock).tick() == []
    assert run.outputs == {"decide": True}


def test_a_wait_timeout_without_default_fails_the_node(client: rt.Client) -> None:
    g = rt.Graph("strict")
    g.wait("approve", Approval, timeout=30)

    @g.node
    def decide(approve: Approval) -> bool:
        return approve.approved

    run = g.run().wait(20)
    assert run.status == "waiting"
    clock = Clock()
    clock.advance(seconds=31)
    _waker(client, clock).tick()
    assert run.wait(20).status == "failed"
    node = run.nodes["approve"]
    assert node.status == "failed" and node.error_type == "TimeoutError"
    assert "was not answered by" in (node.error or "")
    assert run.nodes["decide"].status == "skipped"


CHILD = textwrap.dedent(
    """
    import datetime as dt
    import sys
    from pathlib import Path
    import runtime as rt

    effects = Path(sys.argv[1])

    def record(name: str) -> None:
        with effects.open("a") as f:
            f.write(f"{name}:{rt.current().attempt}\\n")

    g = rt.Graph("crash_nap")

    @g.node
    def first() -> int:
        record("first")
        return 1

    g.sleep("nap", seconds=float(sys.argv[2]), after=["first"])

    @g.node
    def second(first: int, nap: dt.datetime) -> int:
        record("second")
        return first + 1

    if sys.argv[3] == "start":
        run = g.run()
        print(run.id, flush=True)
        run.wait()
    else:
        client = rt.default_client()
        client.recover()
        run = client.get_run(sys.argv[3])
        print(run.wait(60).status, flush=True)
    """
)


def test_a_sleeping_run_outlives_its_process(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "crash_nap.py"
    script.write_text(CHILD)
    effects = tmp_path / "effects.txt"
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(effects), "3", "start"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    watcher = rt.connect(db_url, home=tmp_path)
    try:
        _await(lambda: watcher.get_run(run_id).status == "sleeping")
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        wake_at = watcher.get_run(run_id).record.wake_at
        woken = subprocess.run(
            [sys.executable, str(script), str(effects), "3", run_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert woken.returncode == 0, woken.stderr
        assert woken.stdout.strip() == "succeeded"
        run = watcher.get_run(run_id)
        assert run.outputs == {"second": 2}
        # the sleep was not started again: it woke at the time set before the kill
        assert dt.datetime.fromisoformat(run.output("nap")) == wake_at
        assert sorted(effects.read_text().split()) == ["first:1", "second:1"]
    finally:
        watcher.close()


def test_views_show_a_sleeping_run_with_its_wake_time(sqlite_client: rt.Client) -> None:
    from typer.testing import CliRunner

    from runtime import catalog
    from runtime.cli import app
    from runtime.notebook.display import static_bundle
    from runtime.notebook.view import RunModel, RunView
    from studio.logic.run_page import RunPage
    from studio.states.runs import run_item

    calls: list[str] = []
    run = counting_graph("viewed_nap", calls).run(n=3)
    _status(run, "sleeping")
    wake_at = run.record.wake_at
    assert wake_at is not None
    until = parked_label("sleeping", wake_at)  # "sleeping until 14:05:00 UTC"
    assert until == f"sleeping until {wake_at:%H:%M:%S} UTC" or wake_at.date() != dt.date.today()

    # the notebook view, live (folded from events) and as a static snapshot
    history = sqlite_client.store.events(run.id)  # run.events() would follow it to its end
    model = RunModel(run.spec)
    for event in history:
        model.apply(event)
    assert model.status == "sleeping" and model.banner_status() == until
    table = RunView._table_html(model)
    assert "data-node='cool_off' data-status='sleeping'" in table and until in table
    bundle = static_bundle(run)
    assert until in bundle["text/html"] and until in bundle["text/plain"]

    # the report
    page = run.report()
    assert until in page and "status sleeping" in page

    # the studio: run page header and the runs list
    studio_page = RunPage.create(run.spec)
    studio_page.apply(history)
    assert studio_page.render()["wake"] == until
    rows, _ = catalog.runs(sqlite_client.store)
    assert run_item(rows[0]).wake == until.removeprefix("sleeping ")
    from studio.data import node_detail

    assert node_detail(sqlite_client, run.id, "cool_off", run.spec).wake == until

    # the CLI
    cli = CliRunner()
    listed = cli.invoke(app, ["runs"])
    assert listed.exit_code == 0, listed.output
    assert "sleeping   sdk" in listed.output and until.removeprefix("sleeping ") in listed.output
    shown = cli.invoke(app, ["show", run.id])
    assert shown.exit_code == 0, shown.output
    assert f"cool_off                 {until}" in shown.output
    assert f"  {until}" in shown.output  # the run's own line

    # the API's run detail
    from runtime.api import run_detail

    detail = run_detail(run)
    node = next(n for n in detail.nodes if n.name == "cool_off")
    assert node.status == "sleeping" and node.wake_at == wake_at


def test_sleep_until_the_time_a_node_returns(client: rt.Client) -> None:
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0)
    g = rt.Graph("until_node")

    @g.node
    def due() -> str:
        return at.isoformat()

    g.sleep("nap", until="due")

    @g.node
    def woke(nap: dt.datetime) -> str:
        return nap.isoformat()

    run = g.run()
    _status(run, "sleeping")
    assert run.nodes["nap"].wake_at == at
    assert run.spec["nodes"][1]["sleep"] == {"until_from": "due"}
    clock = Clock()
    clock.move_to(at)
    _waker(client, clock).tick()
    assert run.wait(20).outputs == {"woke": at.isoformat()}
