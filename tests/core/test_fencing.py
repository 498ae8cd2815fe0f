"""Fencing: a pass that lost its run never commits, a process never runs two passes of one
run, a takeover reads the checkpoints it acts on under the lock that fences the old holder,
and two attempts of one node never execute at the same time. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import runtime as rt
from runtime import client as client_module
from runtime.codecs import Encoded
from runtime.store import NewEvent, NodeFinish, NodeStart, StaleWrite, Takeover, tables
from runtime.store.tables import utcnow
from tests.core import isolation_nodes as nodes
from tests.core.test_checkpoints import leased_run


class Ledger:
    """Side effects of node code: (node, attempt, started, ended) per execution."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple[str, int, float, float]] = []

    def record(self, seconds: float = 0.0) -> None:
        ctx = rt.current()
        started = time.monotonic()
        time.sleep(seconds)
        with self.lock:
            self.entries.append((ctx.node, ctx.attempt, started, time.monotonic()))

    def count(self) -> Counter:
        return Counter(node for node, *_ in self.entries)

    def assert_no_overlap(self) -> None:
        by_node: dict[str, list[tuple[float, float]]] = {}
        for node, _attempt, start, end in self.entries:
            by_node.setdefault(node, []).append((start, end))
        for node, spans in by_node.items():
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                assert start >= end, f"two attempts of {node!r} executed at the same time"


def wait_until(condition, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout}s"
        time.sleep(0.01)


@pytest.fixture
def short_lease(db_url: str, tmp_path: Path) -> Iterator[rt.Client]:
    """A client whose leases last one second (renewed every third of it)."""
    c = rt.connect(db_url, home=tmp_path, lease_seconds=1.0)
    yield c
    c.close()
    client_module._default = None


def test_duplicate_requests_to_the_owner_run_each_node_once(client: rt.Client) -> None:
    ledger, gate = Ledger(), threading.Event()
    g = rt.Graph("duplicates")

    @g.node
    def slow() -> int:
        ledger.record()
        gate.wait(20)
        return 1

    @g.node
    def after(slow: int) -> int:
        ledger.record()
        return slow + 1

    run = g.run()
    wait_until(lambda: ledger.count()["slow"] == 1, what="slow started")
    loop = client.dispatcher._ensure_loop()  # type: ignore[attr-defined]
    # what a redelivered message or a reaper's re-enqueue does in a worker
    extra = [
        asyncio.run_coroutine_threadsafe(client.engine.advance(run.id), loop) for _ in range(12)
    ]
    assert [f.result(10) for f in extra] == [None] * 12
    client.recover()
    gate.set()
    assert run.wait(20).status == "succeeded", run.error
    assert ledger.count() == Counter({"slow": 1, "after": 1})
    assert {(n, i.attempts) for n, i in run.nodes.items()} == {("slow", 1), ("after", 1)}


def test_a_live_holder_keeps_its_run_even_with_its_event_loop_blocked(
    short_lease: rt.Client, db_url: str, tmp_path: Path
) -> None:
    """The heartbeat runs on its own thread: an async node that blocks the loop for three
    lease periods does not make its process look dead to a watching recover."""
    ledger = Ledger()
    g = rt.Graph("blocked_loop")

    @g.node
    async def hog() -> int:
        ledger.record(seconds=3.5)  # time.sleep on the event loop
        return 1

    run = g.run()
    wait_until(lambda: short_lease.store.get_run(run.id).status == "running")
    other = rt.connect(db_url, home=tmp_path, lease_seconds=1.0)
    try:
        assert other.recover(watch=True) == []
    finally:
        other.close()
    assert run.wait(20).status == "succeeded", run.error
    assert ledger.count() == Counter({"hog": 1})
    assert run.nodes["hog"].attempts == 1


LEDGER, GATE = Ledger(), threading.Event()
"""For graphs another client in this process loads by reference (closures would not ship)."""


def _work() -> int:
    LEDGER.record()
    if rt.current().attempt == 1:
        GATE.wait(20)
    return rt.current().attempt


def _done(work: int) -> int:
    return work * 10


def test_a_takeover_fences_the_old_pass_out(
    short_lease: rt.Client, db_url: str, tmp_path: Path
) -> None:
    """A holder that stops renewing (cut off from the database) loses the run; when its node
    returns, nothing it writes lands, and the new holder's attempt is the one that counts."""
    LEDGER.entries.clear()
    GATE.clear()
    g = rt.Graph("fenced")
    g.add("work", _work)
    g.add("done", _done)

    run = g.run()
    wait_until(lambda: LEDGER.count()["work"] == 1, what="work started")
    short_lease.engine.heartbeat.stop()  # as if its process could no longer reach the database
    other = rt.connect(db_url, home=tmp_path, lease_seconds=1.0)
    try:
        assert [r.id for r in other.recover(watch=True)] == [run.id]
        finished = other.get_run(run.id).wait(20)
        assert finished.status == "succeeded", finished.error
        seq_before = other.store.last_seq(run.id)
        GATE.set()  # the old attempt returns now; its pass tries to record it, and stops
        wait_until(lambda: not short_lease.engine._passes, what="the fenced pass ended")
        assert other.store.last_seq(run.id) == seq_before
        assert finished.outputs == {"done": 20}
        rows = {(a.node, a.attempt): (a.status, a.error_type) for a in other.store.attempts(run.id)}
        assert rows == {
            ("work", 1): ("failed", "Interrupted"),
            ("work", 2): ("succeeded", None),
            ("done", 1): ("succeeded", None),
        }
    finally:
        GATE.set()
        other.close()


def test_a_stale_lease_writes_nothing_on_either_checkpoint_path(client: rt.Client) -> None:
    store = client.store
    lease = leased_run(client)
    start = NodeStart("a", 1, "running", started_at=utcnow())
    store.step(lease, starts=[start])
    newer = store.acquire(lease.run_id, "someone-else-taking-over", 30, executing=())
    assert newer is None  # held: nobody takes it without leave
    with store.write() as conn:  # the epoch moves on (a takeover elsewhere)
        conn.execute(
            sa.update(tables.run)
            .where(tables.run.c.id == lease.run_id)
            .values(lease_epoch=lease.epoch + 1)
        )
    seq = store.last_seq(lease.run_id)
    finish = NodeFinish(start.row_id, "succeeded", utcnow(), output=Encoded("json", b"1"))  # type: ignore[arg-type]
    with pytest.raises(StaleWrite):  # one statement on PostgreSQL
        store.step(lease, finishes=[finish], events=[NewEvent("node.succeeded", "a")])
    with pytest.raises(StaleWrite):  # statement by statement
        store.step(
            lease,
            finishes=[finish],
            starts=[NodeStart(f"s{i}", 1, "running", started_at=utcnow()) for i in range(5)],
            events=[NewEvent("node.succeeded", "a")],
        )
    with pytest.raises(StaleWrite):
        store.finish_run(lease, "succeeded", finishes=[finish])
    assert store.last_seq(lease.run_id) == seq
    assert [a.status for a in store.attempts(lease.run_id)] == ["running"]
    assert store.get_run(lease.run_id).status == "running"


@pytest.mark.postgres
def test_a_takeover_waits_for_a_checkpoint_in_flight_and_sees_it(pg_client: rt.Client) -> None:
    """The race of a slow takeover: the old holder's checkpoint commits while the takeover
    is under way. The takeover's read happens under the lock, after that commit, so the
    succeeded attempt is not re-run (and is not marked interrupted)."""
    store = pg_client.store
    lease = leased_run(pg_client, owner="old-holder")
    start = NodeStart("a", 1, "running", started_at=utcnow(), owner="old-holder")
    store.step(lease, starts=[start])
    run_row = store.get_run(lease.run_id)
    leave = Takeover("old-holder", run_row.lease_epoch, run_row.lease_until)

    taken: list = []
    with store.write() as conn:  # the old holder's checkpoint, mid-transaction
        store._fence(conn, lease)
        conn.execute(
            sa.update(tables.node_run)
            .where(tables.node_run.c.id == start.row_id)
            .values(status="succeeded", output_codec="json", output_inline=b"1", output_size=1)
        )
        taker = threading.Thread(
            target=lambda: taken.append(
                store.acquire(lease.run_id, "new-holder", 30, takeover=leave)
            )
        )
        taker.start()
        time.sleep(0.3)  # the takeover is now blocked on the fence's lock
        assert not taken
    taker.join(10)
    acquired = taken[0]
    assert acquired is not None and acquired.lease.epoch == lease.epoch + 1
    assert [(a.node, a.status) for a in acquired.attempts] == [("a", "succeeded")]
    assert not [e for e in acquired.events if e["type"] == "node.interrupted"]


def test_a_retry_waits_for_the_timed_out_thread(client: rt.Client) -> None:
    """A thread cannot be killed: the timed-out attempt is recorded at its timeout, and the
    retry starts only once the old thread has returned."""
    ledger = Ledger()
    g = rt.Graph("timeouts")

    @g.node(timeout=0.2, retries=1, backoff=0)
    def slow() -> int:
        ledger.record(seconds=1.0 if rt.current().attempt == 1 else 0.0)
        return rt.current().attempt

    run = g.run().wait(20)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"slow": 2}
    ledger.assert_no_overlap()
    first = client.store.node_attempts(run.id, "slow")[0]
    assert first.error_type == "TimeoutError"
    assert (first.ended_at - first.started_at).total_seconds() < 0.9  # failed at its timeout
    assert first.lease_until is None  # released once the thread returned


def test_a_cancelled_run_keeps_a_still_running_thread_from_overlapping(
    client: rt.Client,
) -> None:
    ledger, gate = Ledger(), threading.Event()
    g = rt.Graph("cancel_thread")

    @g.node
    def stuck() -> int:
        ledger.record()
        gate.wait(20)
        return 1

    run = g.run()
    wait_until(lambda: ledger.count()["stuck"] == 1)
    assert run.cancel() in ("running", "cancelled")
    assert run.wait(10).status == "cancelled"
    row = client.store.node_attempts(run.id, "stuck")[0]
    assert row.status == "cancelled" and row.lease_until is not None  # still executing
    gate.set()
    wait_until(lambda: client.store.node_attempts(run.id, "stuck")[0].lease_until is None)


def test_a_retried_run_waits_for_its_cancelled_thread(client: rt.Client) -> None:
    """A cancel cannot stop a thread: a retry of the run right after it starts the node
    again only once the old thread has returned."""
    ledger, gate = Ledger(), threading.Event()
    g = rt.Graph("cancel_retry_thread")

    @g.node
    def stuck() -> int:
        attempt, started = rt.current().attempt, time.monotonic()
        if attempt == 1:
            gate.wait(20)
        with ledger.lock:
            ledger.entries.append(("stuck", attempt, started, time.monotonic()))
        return attempt

    run = g.run()
    wait_until(
        lambda: [r.status for r in client.store.node_attempts(run.id, "stuck")] == ["running"],
        what="the first attempt running",
    )
    assert run.cancel() in ("running", "cancelled")
    assert run.wait(10).status == "cancelled"
    run.retry()
    time.sleep(0.5)  # room for a retry that would not wait to start beside the thread
    assert [r.attempt for r in client.store.node_attempts(run.id, "stuck")] == [1]
    gate.set()
    assert run.wait(20).status == "succeeded", run.error
    assert run.outputs == {"stuck": 2}
    ledger.assert_no_overlap()


def test_a_timed_out_attempt_in_a_child_process_is_killed(
    client: rt.Client, tmp_path: Path
) -> None:
    """Process isolation: the timeout kills the attempt's process, so its side effects stop
    at once, and the retry starts right after."""
    effects = tmp_path / "ticks"
    g = rt.Graph("killed_on_timeout", isolation="process")
    g.add("tick", nodes.tick, timeout=1.0, retries=1, backoff=0)
    run = g.run(ledger=str(effects))
    run.wait(30)
    assert run.status == "failed"  # both attempts overran
    first = client.store.node_attempts(run.id, "tick")[0]
    assert first.error_type == "TimeoutError" and first.lease_until is None
    ticks = effects.read_text().split()
    assert ticks.count("1") < 100 and ticks.count("2") < 100  # cut off, not run to the end
    assert ticks.index("2") > ticks.count("1") - 1  # the retry started after the first died
    size = effects.stat().st_size
    time.sleep(0.3)
    assert effects.stat().st_size == size  # nothing ticks on


def test_a_node_that_kills_its_child_process_fails_with_the_exit_code(
    client: rt.Client,
) -> None:
    g = rt.Graph("poison_child", isolation="process")
    g.add("boom", nodes.exit_three)
    g.add("fine", nodes.times_ten, inputs={"work": "x"})
    run = g.run(x=4).wait(60)
    assert run.status == "failed"
    boom = run.nodes["boom"]
    assert boom.attempts == 3
    assert boom.error == "interrupted 3 times: process exited with code 3"
    assert run.outputs == {"fine": 40}  # the rest of the run (and this process) carry on


def test_a_node_interrupted_in_a_thread_is_retried_in_a_child(client: rt.Client) -> None:
    """After its process died under it, a node runs in a child process, so a crash it causes
    kills only that child and is put down to it."""
    g = rt.Graph("quarantine")
    g.add("boom", nodes.exit_three)
    version = client.publish(g)
    record, _ = client.store.create_run(version, {}, trigger="sdk", owner=None, inline_limit=16384)
    with client.store.write() as conn:  # as if a process had died in its first attempt
        conn.execute(
            sa.insert(tables.node_run).values(
                run_id=record.id,
                node="boom",
                attempt=1,
                status="failed",
                error_type="Interrupted",
                error_message="the process running this attempt stopped before it finished",
                will_retry=True,
            )
        )
        conn.execute(
            sa.update(tables.run).where(tables.run.c.id == record.id).values(started_at=utcnow())
        )
    client.dispatcher.submit(record.id)
    run = client.get_run(record.id).wait(60)
    assert run.status == "failed"
    assert run.nodes["boom"].error == "interrupted 3 times: process exited with code 3"


def test_cancelling_a_run_kills_its_attempt_in_a_child_process(
    client: rt.Client, tmp_path: Path
) -> None:
    """Process isolation: a cancel kills the attempt's process, so its side effects stop
    at once (a thread would run on), and its attempt lease is released."""
    effects = tmp_path / "ticks"
    g = rt.Graph("cancel_child", isolation="process")
    g.add("tick", nodes.tick)
    run = g.run(ledger=str(effects))
    wait_until(lambda: effects.exists() and effects.stat().st_size > 0, what="the child ticks")
    assert run.cancel() in ("running", "cancelled")
    assert run.wait(10).status == "cancelled"
    wait_until(
        lambda: client.store.node_attempts(run.id, "tick")[0].lease_until is None,
        what="the attempt lease released",
    )
    row = client.store.node_attempts(run.id, "tick")[0]
    assert row.status == "cancelled"
    size = effects.stat().st_size
    time.sleep(0.3)  # a live child would tick about 15 times meanwhile
    assert effects.stat().st_size == size, "the child went on after the cancel"
    assert effects.read_text().split().count("1") < 100  # cut off, not run to the end


def test_a_childs_start_up_does_not_count_against_the_nodes_timeout(client: rt.Client) -> None:
    """Process isolation: a fresh child imports the node's module before it calls the node;
    that is not the node's time (a loaded machine stretches it to seconds), so a quick node
    whose module loads slowly keeps within a timeout shorter than the import."""
    from tests.core import slow_import_nodes

    g = rt.Graph("slow_import", isolation="process")
    g.add("quick", slow_import_nodes.quick, timeout=slow_import_nodes.IMPORT_SECONDS / 2)
    run = g.run(x=1).wait(60)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"quick": 2}
    assert run.nodes["quick"].attempts == 1


def test_plait_isolation_sets_where_nodes_run_unless_a_node_or_graph_says(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.config import settings

    monkeypatch.setenv("PLAIT_ISOLATION", "process")
    settings.cache_clear()  # read once per process: read it again with the variable set
    c = rt.connect(db_url, home=tmp_path)
    try:
        assert c.settings.isolation == "process"
        g = rt.Graph("isolation_default")
        g.add("child", nodes.pid)
        g.add("here", nodes.pid, isolation="thread")
        run = g.run().wait(60)
        assert run.status == "succeeded", run.error
        assert run.outputs["child"] != os.getpid()  # PLAIT_ISOLATION=process
        assert run.outputs["here"] == os.getpid()  # the node's own isolation wins
    finally:
        c.close()
        client_module._default = None
        monkeypatch.delenv("PLAIT_ISOLATION")
        settings.cache_clear()
