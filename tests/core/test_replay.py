"""Replay from any node: a new run reusing a finished run's checkpoints by reference, checked
against a fresh run of the same inputs (equal outputs), with what executed counted in a ledger
of side effects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import runtime as rt
from runtime.errors import InputError, RunStateError
from runtime.store import tables
from tests.core import replay_flows as flows
from tests.core.replay_flows import executions


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger"
    path.mkdir()
    monkeypatch.setenv("PLAIT_REPLAY_LEDGER", str(path))
    return path


def _clear(ledger: Path) -> None:
    for p in ledger.iterdir():
        p.unlink()


def _fresh(graph: rt.Graph, ledger: Path, **inputs: object) -> rt.Run:
    run = graph.run(**inputs).wait(60)
    assert run.status == "succeeded", run.error
    _clear(ledger)
    return run


def test_replay_after_a_code_fix_runs_only_the_changed_node_and_what_reads_it(
    client: rt.Client, ledger: Path
) -> None:
    source = flows.pipeline().run(rows=8, title="q3").wait(60)
    assert source.status == "succeeded", source.error
    assert source.output("summary")["rows"] == 8  # the bug: refunds kept
    _clear(ledger)
    fixed = flows.pipeline(fixed=True)
    client.publish(fixed)  # the workflow's latest version now has the fix

    plan = source.replay_plan()
    assert plan.reused == {"fetch": "unchanged", "label": "unchanged"}
    assert plan.rerun == {
        "clean": "code changed",
        "features": "downstream of clean",
        "summary": "downstream of features",
    }
    assert executions(ledger) == {}  # a plan runs nothing

    replay = source.replay().wait(60)
    assert replay.status == "succeeded", replay.error
    assert replay.replay_of == source.id and replay.record.replay_of == source.id
    assert executions(ledger) == {"clean": 1, "features": 1, "summary": 1}
    assert replay.record.version_id != source.record.version_id

    _clear(ledger)
    fresh = _fresh(fixed, ledger, rows=8, title="q3")
    assert replay.output("summary") == fresh.output("summary") == {"rows": 4, "total": 18.0}
    pd.testing.assert_frame_equal(replay.output("features"), fresh.output("features"))
    assert replay.outputs == fresh.outputs
    # reused nodes show as succeeded, with the source attempt they came from
    rows = {r.node: r for r in client.store.attempts(replay.id)}
    source_rows = {r.node: r for r in client.store.attempts(source.id)}
    assert rows["fetch"].reused_from == source_rows["fetch"].id
    assert rows["clean"].reused_from is None
    assert replay.nodes["fetch"].status == "succeeded"
    queued = next(iter(replay.events()))
    assert queued["data"]["replay_of"] == source.id
    assert queued["data"]["reused"] == ["fetch", "label"]


def test_replay_after_an_input_edit_reruns_what_reads_it(client: rt.Client, ledger: Path) -> None:
    graph = flows.pipeline(fixed=True)
    source = _fresh(graph, ledger, rows=6, title="draft")

    plan = source.replay_plan(inputs={"title": "final"})
    assert plan.rerun == {"label": "changed input title"}
    assert set(plan.reused) == {"fetch", "clean", "features", "summary"}
    # the same value is no change
    assert source.replay_plan(inputs={"title": "draft"}).rerun == {}

    replay = source.replay(inputs={"title": "final"}).wait(60)
    assert replay.status == "succeeded", replay.error
    assert executions(ledger) == {"label": 1}
    assert replay.inputs == {"rows": 6, "title": "final"}
    _clear(ledger)
    fresh = _fresh(graph, ledger, rows=6, title="final")
    assert replay.output("label") == fresh.output("label") == "FINAL"
    assert replay.output("summary") == fresh.output("summary")

    # an input every node downstream of the source reads: all of them run
    everything = source.replay_plan(inputs={"rows": 3})
    assert everything.rerun["fetch"] == "changed input rows"
    assert everything.rerun["summary"] == "downstream of features"


def test_replay_with_an_override_takes_the_value_as_given(client: rt.Client, ledger: Path) -> None:
    graph = flows.pipeline(fixed=True)
    source = _fresh(graph, ledger, rows=6, title="t")
    given = pd.DataFrame({"id": [7], "amount": [100.0]})

    plan = source.replay_plan(overrides={"clean": given})
    assert plan.rerun == {
        "clean": "override",
        "features": "downstream of clean",
        "summary": "downstream of features",
    }
    assert plan.overridden == ["clean"] and plan.executed == ["features", "summary"]

    replay = source.replay(overrides={"clean": given}).wait(60)
    assert replay.status == "succeeded", replay.error
    # the overridden node did not execute; only what reads it did
    assert executions(ledger) == {"features": 1, "summary": 1}
    pd.testing.assert_frame_equal(replay.output("clean"), given)
    assert replay.output("summary") == {"rows": 1, "total": 100.0}
    assert replay.output("summary") == flows.summary(flows.features(given))


def test_replay_from_named_nodes(client: rt.Client, ledger: Path) -> None:
    source = _fresh(flows.pipeline(fixed=True), ledger, rows=4, title="t")
    plan = source.replay_plan(["features"])
    assert plan.rerun == {"features": "named", "summary": "downstream of features"}
    replay = source.replay(["features"]).wait(60)
    assert replay.status == "succeeded", replay.error
    assert executions(ledger) == {"features": 1, "summary": 1}
    assert replay.outputs == source.outputs


def test_replay_of_an_llm_chain_with_a_fake_chat_model(client: rt.Client, ledger: Path) -> None:
    graph = flows.chain(["Owls are nocturnal.", "Owls can rotate their heads."])
    source = _fresh(graph, ledger, subject=" OWLS ", style="short")
    assert source.output("shout") == "OWLS ARE NOCTURNAL."

    # "what if the model had said X": the chain's answer overridden, its readers run again
    plan = source.replay_plan(overrides={"fact": "Owls hunt at night, silently."})
    assert plan.rerun == {
        "fact": "override",
        "shout": "downstream of fact",
        "tally": "downstream of shout",
    }
    assert plan.reused == {"topic": "unchanged"}
    replay = source.replay(overrides={"fact": "Owls hunt at night, silently."}).wait(60)
    assert replay.status == "succeeded", replay.error
    assert executions(ledger) == {"shout": 1, "tally": 1}
    assert replay.output("tally") == {"topic": "owls", "words": 5}

    # a changed style: the chain reads it and runs again (the fake model answers anew)
    _clear(ledger)
    again = source.replay(inputs={"style": "long"}, version="source").wait(60)
    assert again.status == "succeeded", again.error
    assert executions(ledger) == {"shout": 1, "tally": 1}  # topic reused
    assert again.output("shout") == again.output("fact").upper()


def test_replay_of_a_long_chain_from_its_last_node_stores_no_copied_values(
    client: rt.Client,
) -> None:
    graph = flows.long_chain(1000)
    source = graph.run(seed=50_000).wait(180)  # one 50 kB value, well over the inline limit
    assert source.status == "succeeded", source.error

    def measure() -> tuple[int, int, int]:
        with client.store.read() as conn:
            blobs, size = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(tables.blob.c.size), 0))
            ).one()
            rows = conn.execute(sa.select(sa.func.count()).select_from(tables.node_run)).scalar()
        return int(blobs), int(size), int(rows)

    before = measure()
    assert before[0] == 1  # the same value everywhere: one blob
    plan = source.replay_plan(["n999"])
    assert list(plan.rerun) == ["n999"] and len(plan.reused) == 999
    replay = source.replay(["n999"]).wait(180)
    assert replay.status == "succeeded", replay.error
    after = measure()
    # 1,000 new attempt rows, not one new blob nor byte of blob
    assert (after[0] - before[0], after[1] - before[1]) == (0, 0)
    assert after[2] - before[2] == 1000
    assert replay.output("n999") == "x" * 50_000
    with client.store.read() as conn:
        reused = conn.execute(
            sa.select(sa.func.count()).where(
                tables.node_run.c.run_id == replay.id, tables.node_run.c.reused_from.is_not(None)
            )
        ).scalar()
        inline = conn.execute(
            sa.select(sa.func.count()).where(
                tables.node_run.c.run_id == replay.id, tables.node_run.c.output_inline.is_not(None)
            )
        ).scalar()
    assert reused == 999 and inline == 0  # every row references the blob


def test_replay_refuses_what_it_cannot_do(client: rt.Client, ledger: Path) -> None:
    source = _fresh(flows.pipeline(fixed=True), ledger, rows=3, title="t")
    with pytest.raises(InputError, match=r"from_nodes names no node.*'nope'"):
        source.replay_plan(["nope"])
    with pytest.raises(InputError, match=r"overrides names no node.*'ghost'"):
        source.replay_plan(overrides={"ghost": 1})
    with pytest.raises(InputError, match="rows"):
        source.replay_plan(inputs={"rows": "many"})
    with pytest.raises(InputError, match="same workflow"):
        source.replay_plan(version=flows.chain(["x"]))
    g = rt.Graph("replay-waits")

    @g.node
    def ask(x: int) -> int:
        return x

    g.wait("approve", schema={"ok": bool}, after=["ask"])
    waiting = g.run(x=1).wait(30)
    assert waiting.status == "waiting"
    with pytest.raises(RunStateError, match="only a finished run"):
        waiting.replay()


def test_replay_of_a_failed_run_on_fixed_code(client: rt.Client, ledger: Path) -> None:
    g = rt.Graph("replay-broken")

    @g.node
    def load(n: int) -> int:
        flows.note("load")
        return n

    @g.node
    def divide(load: int) -> float:
        flows.note("divide")
        return 1 / (load - 1)

    source = g.run(n=1).wait(30)
    assert source.status == "failed"
    fixed = rt.Graph("replay-broken")

    fixed.add("load", load)

    @fixed.node(name="divide")
    def divide2(load: int) -> float:
        flows.note("divide")
        return 1 / (load + 1)

    _clear(ledger)
    plan = source.replay_plan(version=fixed)
    assert plan.reused == {"load": "unchanged"}
    assert plan.rerun == {"divide": "code changed"}
    replay = source.replay(version=fixed).wait(30)
    assert replay.status == "succeeded", replay.error
    assert executions(ledger) == {"divide": 1}
    assert replay.output("divide") == 0.5


def test_a_replay_keeps_its_values_when_its_source_is_deleted(client: rt.Client) -> None:
    source = flows.long_chain(3).run(seed=40_000).wait(60)
    assert source.status == "succeeded", source.error
    replay = source.replay(["n2"]).wait(60)
    assert replay.status == "succeeded", replay.error
    assert "replay of <b>" + source.id in replay.report()
    # retention deletes the source, and only the blobs no other run holds: not this one's
    purged = client.store.purge_runs([source.id], before=_later())
    assert purged.runs == 1 and purged.blobs == 0
    assert client.store.attempts(source.id) == []
    assert replay.output("n0") == "x" * 40_000
    assert replay.output("n1") == "x" * 40_000


def _later() -> dt.datetime:
    return tables.utcnow() + dt.timedelta(seconds=1)


def test_a_replay_opens_a_wait_again_or_takes_its_answer_as_given(
    client: rt.Client, ledger: Path
) -> None:
    g = rt.Graph("replay-approval")

    @g.node
    def draft(topic: str) -> str:
        flows.note("draft")
        return f"about {topic}"

    g.wait("approve", {"ok": bool}, after=["draft"])

    @g.node
    def publish(draft: str, approve: dict) -> str:
        flows.note("publish")
        return draft if approve["ok"] else "withheld"

    source = g.run(topic="owls").wait(30)
    source.resume("approve", ok=True)
    assert source.wait(30).status == "succeeded"
    _clear(ledger)

    # the answer is reused like any checkpoint, with who gave it
    reused = source.replay(["publish"]).wait(30)
    assert reused.status == "succeeded" and executions(ledger) == {"publish": 1}
    assert reused.output("publish") == "about owls"
    # an override of a wait is a payload, checked against its schema
    with pytest.raises(rt.PayloadError):
        source.replay_plan(overrides={"approve": {"ok": "maybe"}})
    _clear(ledger)
    refused = source.replay(overrides={"approve": {"ok": False}}).wait(30)
    assert refused.status == "succeeded" and executions(ledger) == {"publish": 1}
    assert refused.output("publish") == "withheld"
    # upstream of the wait changed: it opens again
    again = source.replay(inputs={"topic": "bats"}).wait(30)
    assert again.status == "waiting" and set(again.waiting) == {"approve"}
    again.resume("approve", ok=True)
    assert again.wait(30).output("publish") == "about bats"
