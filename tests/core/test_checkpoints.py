"""The checkpoint write itself, on SQLite and PostgreSQL: a step lands whole or not at all,
and a writer whose attempt was taken over writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

import runtime as rt
from runtime.codecs import Encoded
from runtime.store import Lease, NewEvent, NodeFinish, NodeStart, StaleWrite, tables


def leased_run(client: rt.Client, owner: str = "test-owner") -> Lease:
    """A stored run whose lease this test holds (no engine pass touches it)."""
    g = rt.Graph("checkpoints")
    g.wait("hold", {"ok": bool})
    version = client.publish(g)
    record, _ = client.store.create_run(version, {}, trigger="sdk", owner=None, inline_limit=16_384)
    acquired = client.store.acquire(record.id, owner, 30)
    assert acquired is not None
    return acquired.lease


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("siblings", [1, 3, 6])  # 6 + 6 writes: the statement-per-row path
def test_a_step_finishes_starts_and_numbers_its_events(client: rt.Client, siblings: int) -> None:
    store, lease = client.store, leased_run(client)
    run_id = lease.run_id
    first = [NodeStart(f"a{i}", 1, "running", started_at=now()) for i in range(siblings)]
    store.step(
        lease, starts=first, events=[NewEvent("node.running", f"a{i}") for i in range(siblings)]
    )
    assert len({s.row_id for s in first}) == siblings and None not in {s.row_id for s in first}

    big = Encoded("bytes", b"x" * 40_000)  # to the blob table
    finishes = [
        NodeFinish(s.row_id, "succeeded", now(), output=big if i == 0 else Encoded("json", b"1"))
        for i, s in enumerate(first)
    ]
    then = [NodeStart(f"b{i}", 1, "running", started_at=now()) for i in range(siblings)]
    written = store.step(
        lease,
        finishes=finishes,
        starts=then,
        events=[NewEvent("node.succeeded", s.node) for s in first],
    )
    before = [e["seq"] for e in written]
    assert before == sorted(before) and len(before) == siblings
    rows = {(a.node, a.attempt): a for a in store.attempts(run_id)}
    assert all(rows[(f"a{i}", 1)].status == "succeeded" for i in range(siblings))
    assert [rows[(f"b{i}", 1)].id for i in range(siblings)] == [s.row_id for s in then]
    assert store.load_output(rows[("a0", 1)]) == b"x" * 40_000


def test_a_taken_over_attempt_makes_the_whole_step_write_nothing(client: rt.Client) -> None:
    store, lease = client.store, leased_run(client)
    run_id = lease.run_id
    start = NodeStart("a", 1, "running", started_at=now())
    store.step(lease, starts=[start])
    with store.write() as conn:  # another process marks it interrupted
        conn.execute(
            sa.update(tables.node_run)
            .where(tables.node_run.c.id == start.row_id)
            .values(status="failed", error_type="Interrupted")
        )
    events_before = store.last_seq(run_id)
    with pytest.raises(StaleWrite):
        store.step(
            lease,
            finishes=[NodeFinish(start.row_id, "succeeded", now(), output=Encoded("json", b"1"))],
            starts=[NodeStart("b", 1, "running", started_at=now())],
            events=[NewEvent("node.succeeded", "a"), NewEvent("node.running", "b")],
        )
    assert store.last_seq(run_id) == events_before
    assert [(a.node, a.status) for a in store.attempts(run_id) if a.node in ("a", "b")] == [
        ("a", "failed")
    ]


def test_a_node_saving_many_documents_checkpoints_them_all(client: rt.Client) -> None:
    g = rt.Graph("many_documents")

    @g.node
    def notes() -> int:
        for i in range(40):
            rt.current().save_document(f"note {i}", f"text {i}")
        return 40

    run = g.run().wait(30)
    assert run.status == "succeeded"
    assert [d.name for d in run.documents] == [f"note {i}" for i in range(40)]
    saved = [e for e in run.events() if e["type"] == "document.saved"]
    assert len(saved) == 40 and [e["seq"] for e in saved] == sorted(e["seq"] for e in saved)
