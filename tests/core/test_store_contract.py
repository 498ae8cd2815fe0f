"""The Store contract (``runtime/store/contract.py``), operation by operation, run the same
way against both implementations (``db_url`` gives SQLite and PostgreSQL). Each test states
the semantics a docstring promises: what is written in which transaction, what a transition
requires, what comes back."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime import codecs
from runtime.errors import NotFound, RunStateError
from runtime.store import (
    INTERRUPTED,
    WORKER_LOST,
    GiveUp,
    Lease,
    NewEvent,
    NodeFinish,
    NodeStart,
    StaleWrite,
    Store,
    Takeover,
    open_store,
    tables,
)
from runtime.store.contract import NewRun
from runtime.store.postgres import PostgresStore
from runtime.store.sqlite import SqliteStore
from runtime.store.tables import utcnow

SPEC = {"name": "contract", "nodes": [], "inputs": {}, "outputs": []}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url, b"k" * 32)
    s.migrate()
    yield s
    s.dispose()


def a_run(store: Store, **inputs: codecs.Encoded) -> str:
    version = store.publish("contract", "v1", SPEC, b"")
    record, events = store.create_run(version, inputs, trigger="sdk", owner="ada", inline_limit=16)
    assert [e["type"] for e in events] == ["run.queued"] and events[0]["seq"] == 1
    return record.id


def leased(store: Store, owner: str = "one") -> Lease:
    acquired = store.acquire(a_run(store), owner, 30)
    assert acquired is not None
    return acquired.lease


def start(store: Store, lease: Lease, node: str, **fields: object) -> int:
    begun = NodeStart(node, 1, "running", utcnow(), owner=lease.owner, **fields)  # type: ignore[arg-type]
    store.step(lease, starts=[begun])
    assert begun.row_id is not None
    return begun.row_id


def ok(row_id: int, value: bytes = b"1") -> NodeFinish:
    return NodeFinish(row_id, "succeeded", utcnow(), output=codecs.Encoded("json", value))


def test_open_store_picks_the_implementation_from_the_url(db_url: str, tmp_path: Path) -> None:
    s = open_store(db_url)
    assert isinstance(s, PostgresStore if db_url.startswith("postgresql") else SqliteStore)
    assert "password" not in s.display_url
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        open_store("mysql://x@y/z")


def test_publish_is_idempotent_and_versions_are_found(store: Store) -> None:
    first = store.publish("contract", "abc123", SPEC, b"code", "key1")
    again = store.publish("contract", "abc123", SPEC, b"other", "key2")
    assert again.id == first.id and again.code == b"code"  # stored once, untouched
    store.publish("contract", "abd999", SPEC, b"")
    assert store.find_version("contract", "abc").version == "abc123"
    assert store.find_version("contract").version == "abd999"  # the latest
    with pytest.raises(NotFound, match="ambiguous version 'ab'"):
        store.find_version("contract", "ab")
    with pytest.raises(NotFound, match="no workflow named 'nope'"):
        store.find_version("nope")
    assert [v.version for v in store.version_infos("contract")] == ["abd999", "abc123"]
    assert store.code_key_ids() == {"key1": 1}


def test_inputs_are_stored_inline_or_as_blobs_and_come_back(store: Store) -> None:
    small, big = codecs.encode(7), codecs.encode("x" * 100)
    run_id = a_run(store, small=small, big=big)
    record = store.get_run(run_id)
    assert "inline" in record.inputs["small"] and "blob" in record.inputs["big"]
    assert store.load_input(record.inputs["big"]) == "x" * 100
    assert store.get_run(run_id).status == "queued"
    with pytest.raises(NotFound):
        store.get_run("nope")


def test_acquire_takes_a_free_run_and_moves_the_epoch(store: Store) -> None:
    run_id = a_run(store)
    acquired = store.acquire(run_id, "one", 30)
    assert acquired is not None and acquired.first_pass
    assert acquired.run.status == "running" and acquired.lease.epoch == 1
    assert [e["type"] for e in acquired.events] == ["run.running"]
    assert store.acquire(run_id, "two", 30) is None  # held: not without leave
    again = store.acquire(run_id, "one", 30)  # its own holder, no pass of it left
    assert again is not None and again.lease.epoch == 2 and not again.events


def test_a_takeover_is_granted_only_for_the_lease_as_it_was_seen(store: Store) -> None:
    lease = leased(store)
    seen = store.get_run(lease.run_id)
    stale = Takeover("one", seen.lease_epoch, seen.lease_until - dt.timedelta(seconds=1))  # type: ignore[operator]
    assert store.acquire(lease.run_id, "two", 30, takeover=stale) is None
    renewed = store.renew("one", [lease], [], 30)
    assert renewed.held == {lease.run_id}
    unrenewed = Takeover("one", seen.lease_epoch, seen.lease_until)
    assert store.acquire(lease.run_id, "two", 30, takeover=unrenewed) is None  # renewed since
    dead = Takeover("one", seen.lease_epoch)  # a holder known dead: any expiry
    taken = store.acquire(lease.run_id, "two", 30, takeover=dead)
    assert taken is not None and taken.lease == Lease(lease.run_id, "two", lease.epoch + 1)


def test_a_takeover_closes_attempts_whose_code_no_longer_runs(store: Store) -> None:
    lease = leased(store, "one")
    threaded = start(store, lease, "threaded", lease_until=utcnow() + dt.timedelta(seconds=30))
    isolated = start(store, lease, "isolated", isolation="process")
    own = start(store, lease, "own")
    taken = store.acquire(
        lease.run_id, "two", 30, takeover=Takeover("one", lease.epoch), executing=[own]
    )
    assert taken is not None
    rows = {a.node: a for a in taken.attempts}
    assert (rows["threaded"].status, rows["threaded"].error_type) == ("failed", INTERRUPTED)
    assert rows["threaded"].lease_until is None
    assert rows["isolated"].error_type == WORKER_LOST  # its worker died, not the node
    assert rows["own"].error_type == INTERRUPTED  # ``executing`` is only the taker's own rows
    assert {e["node"] for e in taken.events if e["type"] == "node.interrupted"} == {
        "threaded",
        "isolated",
        "own",
    }
    mine = store.acquire(lease.run_id, "two", 30, executing=[threaded])
    assert mine is not None and not [e for e in mine.events if e["type"] == "node.interrupted"]
    del isolated


def test_a_live_attempt_of_another_process_is_left_running(store: Store) -> None:
    lease = leased(store, "one")
    live = start(store, lease, "live", lease_until=utcnow() + dt.timedelta(seconds=30))
    store.release(lease)
    taken = store.acquire(lease.run_id, "two", 30)
    assert taken is not None
    (row,) = taken.attempts
    assert row.id == live and row.status == "running" and row.lease_until is not None


def test_renew_extends_held_leases_and_live_attempt_leases_only(store: Store) -> None:
    lease = leased(store)
    row = start(store, lease, "a", lease_until=utcnow())
    done = start(store, lease, "b", lease_until=utcnow())
    store.step(lease, finishes=[ok(done)])  # its lease is cleared
    gone = Lease(lease.run_id, lease.owner, lease.epoch - 1)
    store.request_cancel(lease.run_id)  # flagged: the lease is live
    renewal = store.renew(lease.owner, [lease, gone], [row, done], 60)
    assert renewal.held == {lease.run_id} and renewal.cancel == {lease.run_id}
    leases = {a.id: a.lease_until for a in store.attempts(lease.run_id)}
    assert leases[row] is not None and leases[row] > utcnow() + dt.timedelta(seconds=50)
    assert leases[done] is None
    other = store.renew("someone-else", [], [row], 600)  # not theirs
    assert other.held == frozenset()
    assert store.node_attempts(lease.run_id, "a")[0].lease_until < utcnow() + dt.timedelta(
        seconds=100
    )  # type: ignore[operator]


def test_release_lets_go_and_a_stall_says_why(store: Store) -> None:
    lease = leased(store)
    assert store.release(Lease(lease.run_id, "one", lease.epoch - 1)) == []  # stale: nothing
    assert store.get_run(lease.run_id).lease_owner == "one"
    written = store.release(lease, stalled="cannot load the code here")
    assert [e["type"] for e in written] == ["run.stalled"]
    record = store.get_run(lease.run_id)
    assert record.lease_owner is None and record.error == "cannot load the code here"
    assert [r.id for r in store.free_runs()] == [lease.run_id]
    again = store.acquire(lease.run_id, "two", 30)
    assert again is not None and again.run.error is None  # the stall is over


@pytest.mark.parametrize("shape", ["one statement", "statement by statement"])
def test_a_step_lands_whole_or_not_at_all(store: Store, shape: str) -> None:
    lease = leased(store)
    first = start(store, lease, "a")
    extra = 1 if shape == "one statement" else 6  # past PostgreSQL's one-statement size
    starts = [NodeStart(f"b{i}", 1, "running", utcnow(), owner=lease.owner) for i in range(extra)]
    big = codecs.Encoded("bytes", b"x" * 40_000)  # to the blob table
    written = store.step(
        lease,
        finishes=[NodeFinish(first, "succeeded", utcnow(), output=big)],
        starts=starts,
        events=[NewEvent("node.succeeded", "a"), NewEvent("node.running", "b0")],
    )
    assert [e["seq"] for e in written] == [3, 4]  # run.queued, run.running, then these
    rows = {a.node: a for a in store.attempts(lease.run_id)}
    assert store.load_output(rows["a"]) == b"x" * 40_000
    assert [rows[f"b{i}"].id for i in range(extra)] == [s.row_id for s in starts]
    # the epoch moves on: every write of the old lease is refused, nothing written
    store.acquire(lease.run_id, lease.owner, 30, executing=[s.row_id for s in starts])  # type: ignore[misc]
    before = store.last_seq(lease.run_id)
    with pytest.raises(StaleWrite, match="no longer held"):
        store.step(lease, finishes=[ok(rows["b0"].id)], starts=starts[:extra])  # type: ignore[arg-type]
    assert store.last_seq(lease.run_id) == before
    assert store.node_attempts(lease.run_id, "b0")[0].status == "running"


def test_a_step_finishing_an_attempt_no_longer_running_writes_nothing(store: Store) -> None:
    lease = leased(store)
    row = start(store, lease, "a")
    store.step(lease, interrupt=[row])  # closed (as a dead process's attempt)
    (closed,) = store.node_attempts(lease.run_id, "a")
    assert (closed.status, closed.error_type, closed.will_retry) == ("failed", INTERRUPTED, True)
    with pytest.raises(StaleWrite, match="no longer running"):
        store.step(lease, finishes=[ok(row)], events=[NewEvent("node.succeeded", "a")])
    store.step(lease, give_up=[GiveUp(row, "interrupted 3 times: boom")])
    (given_up,) = store.node_attempts(lease.run_id, "a")
    assert (given_up.will_retry, given_up.error_message) == (False, "interrupted 3 times: boom")


def test_finish_run_settles_unless_a_wait_was_answered(store: Store) -> None:
    lease = leased(store)
    wait = NodeStart("w", 1, "waiting", utcnow())
    store.step(lease, starts=[wait])
    store.answer_wait(
        lease.run_id, "w", codecs.encode({"ok": True}), answered_by="bob", inline_limit=16
    )
    written, settled = store.finish_run(
        lease,
        "waiting",
        expect_waiting=[wait.row_id],  # type: ignore[list-item]
        node_events=[NewEvent("node.x")],
        events=[NewEvent("run.waiting")],
    )
    assert not settled and [e["type"] for e in written] == ["node.x"]
    assert store.get_run(lease.run_id).lease_owner == lease.owner  # still ours: go on
    running = start(store, lease, "r")
    written, settled = store.finish_run(
        lease, "failed", error="node(s) failed: r", events=[NewEvent("run.failed")]
    )
    record = store.get_run(lease.run_id)
    assert settled and record.status == "failed" and record.error == "node(s) failed: r"
    assert record.lease_owner is None and record.ended_at is not None
    assert store.node_attempts(lease.run_id, "r")[0].status == "cancelled"  # none left running
    with pytest.raises(StaleWrite):
        store.finish_run(lease, "succeeded")
    del running


def test_a_run_parking_as_its_cancel_is_requested_ends_cancelled(store: Store) -> None:
    lease = leased(store)
    nap = NodeStart("nap", 1, "sleeping", utcnow(), wake_at=utcnow() + dt.timedelta(hours=1))
    store.step(lease, starts=[nap])
    status, _ = store.request_cancel(lease.run_id)
    assert status == "running"  # only flagged: the pass holding the run has not heard it yet
    written, settled = store.finish_run(
        lease, "sleeping", wake_at=nap.wake_at, events=[NewEvent("run.sleeping")]
    )
    record = store.get_run(lease.run_id)
    assert settled and [e["type"] for e in written] == ["run.cancelled"]
    assert (record.status, record.wake_at, record.lease_owner) == ("cancelled", None, None)
    assert record.ended_at is not None
    assert store.node_attempts(lease.run_id, "nap")[0].status == "cancelled"


def test_answer_wait_requeues_a_waiting_run_and_refuses_anything_else(store: Store) -> None:
    lease = leased(store)
    store.step(lease, starts=[NodeStart("w", 1, "waiting", utcnow())])
    store.finish_run(lease, "waiting")
    status, events = store.answer_wait(
        lease.run_id, "w", codecs.encode({"ok": 1}), answered_by="bob", inline_limit=16
    )
    assert status == "queued" and [e["type"] for e in events] == ["node.succeeded", "run.queued"]
    (row,) = store.node_attempts(lease.run_id, "w")
    assert row.answered_by == "bob" and store.load_output(row) == {"ok": 1}
    with pytest.raises(RunStateError, match="not waiting"):
        store.answer_wait(lease.run_id, "w", codecs.encode({}), answered_by=None, inline_limit=16)


def test_cancel_flags_a_live_holder_and_cancels_anything_else_at_once(store: Store) -> None:
    lease = leased(store)
    status, events = store.request_cancel(lease.run_id)
    assert status == "running" and [e["type"] for e in events] == ["run.cancel_requested"]
    with store.write() as conn:  # type: ignore[attr-defined]
        conn.execute(  # the holder's lease ran out
            sa.update(tables.run)
            .where(tables.run.c.id == lease.run_id)
            .values(lease_until=utcnow() - dt.timedelta(seconds=1))
        )
    status, events = store.request_cancel(lease.run_id)
    assert status == "cancelled" and [e["type"] for e in events] == ["run.cancelled"]
    with pytest.raises(StaleWrite):  # a holder taken for dead cannot write
        store.step(lease, events=[NewEvent("node.x")])
    assert store.request_cancel(lease.run_id) == ("cancelled", [])


def test_retry_run_queues_a_failed_run_again_above_a_floor(store: Store) -> None:
    lease = leased(store)
    done, broken = start(store, lease, "a"), start(store, lease, "b")
    later = utcnow() + dt.timedelta(seconds=30)
    failed = NodeFinish(broken, "failed", utcnow(), error_type="E", will_retry=True, retry_at=later)
    store.step(lease, finishes=[ok(done), failed])
    store.step(lease, starts=[NodeStart("c", 1, "skipped", utcnow(), utcnow())])
    assert store.node_attempts(lease.run_id, "b")[0].retry_at == later
    with pytest.raises(RunStateError, match="is running: only a failed or cancelled run"):
        store.retry_run(lease.run_id)
    store.finish_run(lease, "failed", error="node(s) failed: b")

    restart, events = store.retry_run(lease.run_id, retried_by="ann")
    assert restart == ["b", "c"]
    assert [(e["type"], e["data"]) for e in events] == [
        ("run.retried", {"status": "queued", "restart": ["b", "c"], "by": "ann"})
    ]
    record = store.get_run(lease.run_id)
    assert (record.status, record.error, record.ended_at) == ("queued", None, None)
    assert record.retry_floor == max(r.id for r in store.attempts(lease.run_id))  # type: ignore[type-var]
    assert [r.status for r in store.attempts(lease.run_id)] == ["succeeded", "failed", "skipped"]
    with pytest.raises(StaleWrite):  # the old pass stays fenced off
        store.step(lease, events=[NewEvent("node.x")])
    again = store.acquire(lease.run_id, "two", 30)
    assert again is not None and again.lease.epoch == lease.epoch + 1
    assert len(again.attempts) == 3 and not again.first_pass
    with pytest.raises(RunStateError, match="is running"):
        store.retry_run(lease.run_id)


def test_retry_run_clears_a_cancel_and_refuses_a_success(store: Store) -> None:
    run_id = a_run(store)
    assert store.request_cancel(run_id)[0] == "cancelled"
    restart, _ = store.retry_run(run_id)
    record = store.get_run(run_id)
    assert restart == [] and record.retry_floor is None
    assert (record.status, record.cancel_requested) == ("queued", False)
    lease = store.acquire(run_id, "one", 30)
    assert lease is not None
    store.finish_run(lease.lease, "succeeded")
    with pytest.raises(RunStateError, match="is succeeded"):
        store.retry_run(run_id)
    assert store.events(run_id)[-1]["type"] != "run.retried"


def test_create_run_keeps_the_requested_outputs(store: Store) -> None:
    version = store.publish("contract", "v1", SPEC, b"")
    record, _ = store.create_run(
        version, {}, trigger="sdk", owner=None, inline_limit=16, targets=["x", "y"]
    )
    assert record.targets == ["x", "y"] and store.get_run(record.id).targets == ["x", "y"]
    assert store.get_run(a_run(store)).targets is None


def test_documents_are_fenced_replaced_by_name_and_listed_in_order(store: Store) -> None:
    lease = leased(store)
    store.save_document(lease, "a", "notes", "markdown", codecs.encode("one"), 16)
    store.save_document(lease, "a", "table", "json", codecs.encode([1, 2]), 16)
    store.save_document(lease, "a", "notes", "markdown", codecs.encode("two"), 16)
    assert [(d.name, v) for d, v in store.documents(lease.run_id)] == [
        ("table", [1, 2]),
        ("notes", "two"),
    ]
    assert store.document(lease.run_id, "a", "notes") == "two"
    assert store.document(lease.run_id, "b", "notes") is None
    assert store.document(lease.run_id, "a", "nothing") is None
    store.acquire(lease.run_id, lease.owner, 30)
    with pytest.raises(StaleWrite):
        store.save_document(lease, "a", "late", "text", codecs.encode("x"), 16)


def test_events_count_again_when_another_writer_took_their_numbers(store: Store) -> None:
    lease = leased(store)
    store.request_cancel(lease.run_id)  # seq 3, behind the pass's back
    written = store.step(lease, events=[NewEvent("node.x")], next_seq=3)
    assert [e["seq"] for e in written] == [4]
    assert [e["seq"] for e in store.events(lease.run_id)] == [1, 2, 3, 4]
    assert [e["seq"] for e in store.events(lease.run_id, after=2, limit=1)] == [3]
    assert store.last_seq(lease.run_id) == 4 and store.last_seq("nope") == 0


def test_an_orphaned_attempt_is_recorded_only_while_its_row_waits_for_it(store: Store) -> None:
    lease = leased(store)
    row = start(store, lease, "a")
    written = store.finish_orphan(lease.run_id, "someone-else", ok(row), [NewEvent("x")], 16)
    assert written == []  # not theirs
    written = store.finish_orphan(lease.run_id, lease.owner, ok(row), [NewEvent("x")], 16)
    assert [e["type"] for e in written] == ["x"]
    assert store.node_attempts(lease.run_id, "a")[0].status == "succeeded"
    assert store.finish_orphan(lease.run_id, lease.owner, ok(row), [], 16) == []


def test_unstarted_and_released_attempts(store: Store) -> None:
    lease = leased(store)
    row = start(store, lease, "a", lease_until=utcnow() + dt.timedelta(seconds=30))
    store.release_attempts("someone-else", [row])
    assert store.node_attempts(lease.run_id, "a")[0].lease_until is not None
    store.release_attempts(lease.owner, [row])
    assert store.node_attempts(lease.run_id, "a")[0].lease_until is None
    store.unstart(lease, [row])
    (closed,) = store.node_attempts(lease.run_id, "a")
    assert (closed.status, closed.error_type) == ("failed", WORKER_LOST)


def test_share_links(store: Store) -> None:
    run_id = a_run(store)
    link = store.create_share_link(run_id, "h" * 64, expires_at=None, created_by="ada")
    assert store.share_link("h" * 64) == link and store.share_link("x" * 64) is None
    assert [x.id for x in store.share_links(run_id)] == [link.id]
    assert not store.revoke_share_link(link.id, run_id="another-run")
    assert store.revoke_share_link(link.id) and not store.revoke_share_link(link.id)
    assert store.share_links(run_id)[0].revoked_at is not None
    with pytest.raises(NotFound):
        store.create_share_link("nope", "y" * 64, expires_at=None, created_by=None)


def test_the_catalogue(store: Store) -> None:
    runs = [a_run(store) for _ in range(3)]
    lease = store.acquire(runs[0], "one", 30)
    assert lease is not None
    page, total = store.run_page(limit=2)
    assert total == 3 and len(page) == 2
    assert [r.id for r in store.run_page(status="running")[0]] == [runs[0]]
    assert store.run_page(workflow="nope") == ([], 0)
    (summary,) = store.workflow_summaries(utcnow())
    assert (summary.name, summary.runs_last_day) == ("contract", 3)
    assert summary.last_run_id in runs


def test_run_pages_follow_a_cursor_and_count_up_to_the_cap(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [a_run(store) for _ in range(7)]
    seen: list[str] = []
    after = None
    while True:
        page, _ = store.run_page(limit=3, after=after)
        if not page:
            break
        seen += [r.id for r in page]
        after = (page[-1].created_at, page[-1].id)
    assert sorted(seen) == sorted(made) and len(set(seen)) == 7, "every run once"
    assert seen == [r.id for r in store.run_page(limit=7)[0]], "the order of one long page"
    monkeypatch.setattr("runtime.store.sql.COUNT_CAP", 4)
    assert store.run_page(limit=2)[1] == 5, "counted up to the cap and one more"


def test_leadership_is_held_by_one_process_at_a_time(store: Store) -> None:
    first, second = store.leader("reaper"), store.leader("reaper")
    assert first.hold()
    if isinstance(store, SqliteStore):
        assert second.hold()  # one host: every process may lead
    else:
        assert not second.hold()
        assert first.hold()  # and keeps holding
        first.release()
        assert second.hold()
    first.release()
    second.release()


def test_concurrent_status_changes_serialise(store: Store) -> None:
    """A cancel and a resume from two threads at once: one wins, the other sees its effect."""
    lease = leased(store)
    store.step(lease, starts=[NodeStart("w", 1, "waiting", utcnow())])
    store.finish_run(lease, "waiting")
    outcomes: list[object] = []

    def answer() -> None:
        try:
            outcomes.append(
                store.answer_wait(
                    lease.run_id, "w", codecs.encode({}), answered_by=None, inline_limit=16
                )[0]
            )
        except RunStateError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=answer), threading.Thread(target=answer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(map(type, outcomes), key=str) == sorted([str, RunStateError], key=str)


def test_astep_writes_what_step_writes(store: Store) -> None:
    """The awaited checkpoint (an async connection on PostgreSQL, a thread elsewhere)."""
    lease = leased(store)
    row = start(store, lease, "a")

    async def checkpoint() -> list:
        begun = NodeStart("b", 1, "running", utcnow(), owner=lease.owner)
        written = await store.astep(
            lease, finishes=[ok(row)], starts=[begun], events=[NewEvent("node.succeeded", "a")]
        )
        assert begun.row_id is not None
        stale = Lease(lease.run_id, lease.owner, lease.epoch - 1)
        with pytest.raises(StaleWrite):
            await store.astep(stale, events=[NewEvent("node.x")])
        return written

    written = asyncio.run(checkpoint())
    assert [e["type"] for e in written] == ["node.succeeded"]
    assert [(a.node, a.status) for a in store.attempts(lease.run_id)] == [
        ("a", "succeeded"),
        ("b", "running"),
    ]


@pytest.mark.parametrize("ends", [0, 1, 3])
def test_afinish_run_ends_a_run_whole_and_only_under_its_lease(store: Store, ends: int) -> None:
    """The awaited end (one statement on PostgreSQL when small): its last finishes, the
    run's end and its events land together, or, under a lost lease or with an attempt no
    longer running, nothing does."""
    lease = leased(store)
    rows = [start(store, lease, f"n{k}") for k in range(ends)]
    stale = Lease(lease.run_id, lease.owner, lease.epoch - 1)

    async def end(of: Lease, finishes: list[NodeFinish]) -> tuple[list, bool]:
        return await store.afinish_run(
            of,
            "succeeded",
            finishes=finishes,
            node_events=[NewEvent("node.succeeded", f"n{k}") for k in range(len(finishes))],
            events=[NewEvent("run.succeeded", data={"status": "succeeded"})],
        )

    with pytest.raises(StaleWrite):
        asyncio.run(end(stale, [ok(r) for r in rows]))
    if ends:
        store.step(lease, finishes=[ok(rows[-1])])  # ended meanwhile: no longer running
        with pytest.raises(StaleWrite):
            asyncio.run(end(lease, [ok(r) for r in rows]))
        finishes = [ok(r, b"2") for r in rows[:-1]]
    else:
        finishes = []
    assert store.get_run(lease.run_id).status == "running"  # nothing of those landed
    assert {a.status for a in store.attempts(lease.run_id)} <= {"running", "succeeded"}
    written, settled = asyncio.run(end(lease, finishes))
    record = store.get_run(lease.run_id)
    assert settled and record.status == "succeeded" and record.ended_at is not None
    assert record.lease_owner is None and record.lease_until is None and record.error is None
    assert [e["type"] for e in written][-1] == "run.succeeded"
    assert [e["seq"] for e in store.events(lease.run_id)][-len(written) :] == [
        e["seq"] for e in written
    ]
    assert all(a.status == "succeeded" for a in store.attempts(lease.run_id))
    with pytest.raises(StaleWrite):
        asyncio.run(end(lease, []))  # released: its lease ended with it


# -- delayed runs and schedules ---------------------------------------------------------------


def test_create_run_with_start_at_is_scheduled_until_release_due_queues_it(store: Store) -> None:
    version = store.publish("contract", "v1", SPEC, b"")
    later = utcnow() + dt.timedelta(hours=1)
    record, events = store.create_run(
        version, {}, trigger="sdk", owner=None, inline_limit=16, start_at=later
    )
    assert record.status == "scheduled" and store.get_run(record.id).start_at == later
    assert events[0]["type"] == "run.scheduled" and events[0]["data"]["start_at"]
    assert store.acquire(record.id, "w", 30) is None  # no worker can take it early
    assert record.id not in {r.id for r in store.free_runs()}
    assert store.release_due(later - dt.timedelta(seconds=1)) == []
    released = store.release_due(later)
    assert [run_id for run_id, _ in released] == [record.id]
    assert [e["type"] for e in released[0][1]] == ["run.queued"]
    assert store.get_run(record.id).status == "queued"
    assert store.release_due(later) == []  # queued once


def test_a_scheduled_run_cancelled_is_never_released(store: Store) -> None:
    version = store.publish("contract", "v1", SPEC, b"")
    soon = utcnow() + dt.timedelta(seconds=5)
    record, _ = store.create_run(
        version, {}, trigger="sdk", owner=None, inline_limit=16, start_at=soon
    )
    assert store.request_cancel(record.id)[0] == "cancelled"
    assert store.release_due(soon + dt.timedelta(hours=1)) == []
    assert store.get_run(record.id).status == "cancelled"


def a_schedule(store: Store, **fields: object) -> tables.Schedule:
    store.publish("contract", "v1", SPEC, b"")
    row = tables.Schedule(workflow_id=0, cron="* * * * *", **fields)  # type: ignore[arg-type]
    return store.create_schedule("contract", row)


def test_create_schedule_names_unknown_workflows_and_keys_find_the_same_row(store: Store) -> None:
    with pytest.raises(NotFound, match="no workflow named 'nope'"):
        store.create_schedule("nope", tables.Schedule(workflow_id=0, cron="* * * * *"))
    first = a_schedule(store, key="code:a")
    again = a_schedule(store, key="code:a", tz="Europe/Berlin")
    assert again.id == first.id and again.tz == "Europe/Berlin"
    other = a_schedule(store)
    assert other.id != first.id
    assert [s.id for s, name in store.schedules("contract")] == [first.id, other.id]
    assert store.get_schedule(first.id)[1] == "contract"  # type: ignore[arg-type]


def test_fire_schedule_stores_each_fire_time_once_with_its_run(store: Store) -> None:
    schedule = a_schedule(store)
    assert schedule.id is not None
    version = store.find_version("contract")
    at = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    new = NewRun(version, {}, "schedule", trigger_ref=f"schedule:{schedule.id}")
    stored = store.fire_schedule(schedule.id, at, "started", new, 16)
    assert stored is not None and stored[0] is not None
    run = stored[0]
    assert run.trigger == "schedule" and run.trigger_ref == f"schedule:{schedule.id}"
    assert store.fire_schedule(schedule.id, at, "started", new, 16) is None  # a second scheduler
    assert len(store.list_runs(trigger="schedule")) == 1
    fires = store.schedule_fires(schedule.id)
    assert [(f.fire_at, f.outcome, f.run_id) for f in fires] == [(at, "started", run.id)]
    assert store.get_schedule(schedule.id)[0].last_fire_at == at
    assert store.schedule_active_runs(schedule.id) == 1
    store.request_cancel(run.id)
    assert store.schedule_active_runs(schedule.id) == 0


def test_pending_fire_starts_once(store: Store) -> None:
    schedule = a_schedule(store, overlap="queue_one")
    assert schedule.id is not None
    at = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    assert store.fire_schedule(schedule.id, at, "pending", None, 16) == (None, [])
    (pending,) = store.schedule_fires(schedule.id, outcome="pending")
    assert pending.id is not None
    new = NewRun(store.find_version("contract"), {}, "schedule")
    started = store.start_pending_fire(pending.id, new, 16)
    assert started is not None and started[0].status == "queued"
    assert store.start_pending_fire(pending.id, new, 16) is None
    assert store.schedule_fires(schedule.id, outcome="pending") == []


def test_pause_resume_and_delete_schedule(store: Store) -> None:
    schedule = a_schedule(store)
    assert schedule.id is not None
    assert store.set_schedule_paused(schedule.id, True).paused
    resumed = store.set_schedule_paused(schedule.id, False)
    assert not resumed.paused and resumed.last_fire_at is not None  # paused time not replayed
    store.delete_schedule(schedule.id)
    with pytest.raises(NotFound, match=f"no schedule with id {schedule.id}"):
        store.get_schedule(schedule.id)
    with pytest.raises(NotFound):
        store.delete_schedule(schedule.id)


# -- admission and webhooks ------------------------------------------------------------------


def test_acquire_admits_queued_runs_within_the_limit_by_priority(store: Store) -> None:
    version = store.publish("contract", "v1", SPEC, b"")

    def queued(priority: int = 0) -> str:
        record, _ = store.create_run(
            version, {}, trigger="sdk", owner=None, inline_limit=16, priority=priority
        )
        return record.id

    with pytest.raises(NotFound, match="no workflow named 'nobody'"):
        store.set_run_limit("nobody", 1)
    store.set_run_limit("contract", 2)
    low, high, mid = queued(0), queued(9), queued(5)
    assert store.admissible_runs(version.workflow_id) == [high, mid]
    # a run ranked past the free slots is refused, and nothing is written
    assert store.acquire(low, "one", 30) is None
    assert store.get_run(low).status == "queued" and store.last_seq(low) == 1
    first = store.acquire(high, "one", 30)
    assert first is not None and first.run.status == "running"
    assert store.admissible_runs(version.workflow_id) == [mid]
    assert store.acquire(mid, "two", 30) is not None
    assert store.admissible_runs(version.workflow_id) == []
    assert store.acquire(low, "one", 30) is None  # both slots taken
    store.finish_run(first.lease, "succeeded")
    assert store.admissible_runs(version.workflow_id) == [low]
    assert store.acquire(low, "one", 30) is not None
    # lifted: anything goes, and nothing is listed as waiting for a slot
    store.set_run_limit("contract", None)
    assert store.admissible_runs(version.workflow_id) is None
    assert store.acquire(queued(), "one", 30) is not None


def test_webhook_endpoints_secrets_and_deliveries(store: Store) -> None:
    version = store.publish("contract", "v1", SPEC, b"")
    now = utcnow()
    endpoint = tables.WebhookEndpoint(
        id="wh_contract", workflow_id=version.workflow_id, created_at=now, created_by="ada"
    )
    store.create_webhook(endpoint, b"first")
    assert [(e.id, name) for e, name in store.webhooks()] == [("wh_contract", "contract")]
    assert store.webhooks("other") == []
    assert store.webhook_target("wh_nobody", now) is None
    target = store.webhook_target("wh_contract", now)
    assert target is not None and target.workflow == "contract"
    assert target.ciphertexts == [b"first"]
    assert (target.version_id, target.spec) == (version.id, SPEC)
    # rotation: the old secret stays valid until the overlap ends, newest first meanwhile
    until = now + dt.timedelta(minutes=5)
    store.rotate_webhook_secret("wh_contract", b"second", until)
    assert store.webhook_target("wh_contract", now).ciphertexts == [b"second", b"first"]  # type: ignore[union-attr]
    later = until + dt.timedelta(seconds=1)
    assert store.webhook_target("wh_contract", later).ciphertexts == [b"second"]  # type: ignore[union-attr]
    # unpinned: the latest version at each request; pinned: that one
    newer = store.publish("contract", "v2", {**SPEC, "description": "v2"}, b"")
    assert store.webhook_target("wh_contract", now).version_id == newer.id  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        store.rotate_webhook_secret("wh_nobody", b"x", until)
    # claims: the first inserts, a second finds it; finishing with a run keeps the claim
    run = a_run(store)
    delivery_id, run_id, claimed = store.claim_delivery("wh_contract", "m1", "m1", "valid", run)
    assert (run_id, claimed) == (run, True)
    assert store.claim_delivery("wh_contract", "m1", "m1", "valid", "other") == (
        delivery_id,
        run,
        False,
    )
    # finishing without a run frees the message id for a later delivery of it
    other, _, _ = store.claim_delivery("wh_contract", "m2", "m2", "valid", "r2")
    store.finish_delivery(other, run_id=None, status_code=422, error="bad body")
    again, _, claimed = store.claim_delivery("wh_contract", "m2", "m2", "valid", "r3")
    assert claimed and again != other
    refused = store.record_delivery(
        tables.WebhookDelivery(
            endpoint_id="wh_contract", webhook_id="m3", status_code=401, verdict="invalid"
        )
    )
    listed = store.deliveries("wh_contract")
    assert [d.id for d in listed][:1] == [refused]
    assert {d.id: d.status_code for d in listed}[other] == 422
    assert store.delete_webhook("wh_contract") and not store.delete_webhook("wh_contract")
    assert store.deliveries("wh_contract") == [] and store.webhooks() == []
    assert store.get_run(run).id == run  # the runs stay


def test_pickle_key_ids_are_recorded_once_per_key_from_outputs_and_inputs(store: Store) -> None:
    from runtime import signing

    assert store.pickle_key_ids() == []
    first, second = b"a" * 32, b"b" * 32
    lease = leased(store)
    row = start(store, lease, "a")
    pickled = codecs.Encoded(codecs.PICKLE, signing.dumps_signed([1], first))
    store.step(lease, finishes=[NodeFinish(row, "succeeded", utcnow(), output=pickled)])
    a_run(store, x=codecs.Encoded(codecs.PICKLE, signing.dumps_signed(2, first)))
    a_run(store, y=codecs.Encoded(codecs.PICKLE, signing.dumps_signed(3, second)))
    a_run(store, z=codecs.Encoded("json", b"4"))  # not a pickle: nothing recorded
    assert sorted(store.pickle_key_ids()) == sorted([signing.key_id(first), signing.key_id(second)])
    assert store.pickle_key_ids()[0] == signing.key_id(first)  # oldest first


def test_large_members_of_a_tree_are_blobs_of_their_own_and_come_back(store: Store) -> None:
    big = b"\x01" * 40_000
    tree = codecs.encode({"big": big, "small": [big[:3]]})
    assert tree.codec == "tree"
    run_id = a_run(store, x=tree)  # inline_limit=16: every member is moved out
    assert store.load_input(store.get_run(run_id).inputs["x"]) == {"big": big, "small": [big[:3]]}
    with store.read() as conn:
        sizes = sorted(conn.execute(sa.select(tables.blob.c.size)).scalars())
    assert 40_000 in sizes  # the member on its own, not inside the tree's bytes


def test_element_attempts_are_rows_of_their_own_read_per_map_node(store: Store) -> None:
    lease = leased(store)
    node = start(store, lease, "sq_map")
    elements = [
        NodeStart(f"sq_map[{i}]", 1, "running", utcnow(), owner=lease.owner, element=i)
        for i in range(3)
    ]
    other = NodeStart("sq_mapx[0]", 1, "running", utcnow(), owner=lease.owner, element=0)
    store.step(lease, starts=[*elements, other])  # the LIKE prefix escapes ``_``
    store.step(
        lease,
        finishes=[ok(elements[0].row_id), NodeFinish(elements[1].row_id, "failed", utcnow())],  # type: ignore[arg-type]
        starts=[NodeStart("sq_map[1]", 2, "running", utcnow(), owner=lease.owner, element=1)],
    )
    # element rows are no node attempts: a pass, the views and a retry never see them
    assert [a.id for a in store.attempts(lease.run_id)] == [node]
    assert [a.id for a in store.node_attempts(lease.run_id, "sq_map")] == [node]
    rows = store.element_attempts(lease.run_id, "sq_map")
    assert [(r.element, r.attempt, r.status) for r in rows] == [
        (0, 1, "succeeded"),
        (1, 1, "failed"),
        (1, 2, "running"),
        (2, 1, "running"),
    ]
    assert store.load_output(rows[0]) == 1
    page = store.element_page(lease.run_id, "sq_map", offset=1, limit=1)
    assert [(r.element, r.attempt) for r in page] == [(1, 2)]
    # renewed with the process's attempts, closed when the run ends unsuccessfully
    store.renew(lease.owner, [lease], [elements[2].row_id], 60)  # type: ignore[list-item]
    store.finish_run(lease, "failed", error="x")
    statuses = {r.element: r.status for r in store.element_attempts(lease.run_id, "sq_map")}
    assert statuses == {0: "succeeded", 1: "cancelled", 2: "cancelled"}


def test_attempt_rows_reads_only_the_asked_rows_of_the_run(store: Store) -> None:
    lease = leased(store)
    elements = [
        NodeStart(f"m[{i}]", 1, "running", utcnow(), owner=lease.owner, element=i) for i in range(4)
    ]
    store.step(lease, starts=elements)
    store.step(lease, finishes=[ok(elements[1].row_id)])  # type: ignore[arg-type]
    ids = [elements[1].row_id, elements[3].row_id]
    rows = store.attempt_rows(lease.run_id, ids)  # type: ignore[arg-type]
    assert sorted((r.element, r.status) for r in rows) == [(1, "succeeded"), (3, "running")]
    assert store.load_output(next(r for r in rows if r.element == 1)) == 1
    # another run's ids are not this run's rows
    assert store.attempt_rows(a_run(store), ids) == []  # type: ignore[arg-type]
    assert store.attempt_rows(lease.run_id, []) == []
