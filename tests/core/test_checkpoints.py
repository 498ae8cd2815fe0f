"""The checkpoint write itself, on SQLite and PostgreSQL: a step lands whole or not at all,
and a writer whose attempt was taken over writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

import runtime as rt
from runtime.codecs import Encoded
from runtime.store import tables
from runtime.store.repo import NewEvent, NodeFinish, NodeStart, StaleWrite


def fresh_run(client: rt.Client) -> str:
    g = rt.Graph("checkpoints")
    g.wait("hold", {"ok": bool})  # the engine leaves the run alone once it waits
    return g.run().wait(10).id


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("siblings", [1, 3, 6])  # 6 + 6 writes: the statement-per-row path
def test_a_step_finishes_starts_and_numbers_its_events(client: rt.Client, siblings: int) -> None:
    store, run_id = client.store, fresh_run(client)
    first = [NodeStart(f"a{i}", 1, "running", started_at=now()) for i in range(siblings)]
    store.step(
        run_id, starts=first, events=[NewEvent("node.running", f"a{i}") for i in range(siblings)]
    )
    assert len({s.row_id for s in first}) == siblings and None not in {s.row_id for s in first}

    big = Encoded("bytes", b"x" * 40_000)  # to the blob table
    finishes = [
        NodeFinish(s.row_id, "succeeded", now(), output=big if i == 0 else Encoded("json", b"1"))
        for i, s in enumerate(first)
    ]
    then = [NodeStart(f"b{i}", 1, "running", started_at=now()) for i in range(siblings)]
    written = store.step(
        run_id,
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
    store, run_id = client.store, fresh_run(client)
    start = NodeStart("a", 1, "running", started_at=now())
    store.step(run_id, starts=[start])
    with store.write() as conn:  # another process marks it interrupted
        conn.execute(
            sa.update(tables.node_run)
            .where(tables.node_run.c.id == start.row_id)
            .values(status="failed", error_type="Interrupted")
        )
    events_before = store.last_seq(run_id)
    with pytest.raises(StaleWrite):
        store.step(
            run_id,
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
