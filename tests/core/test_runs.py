"""Running graphs through the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time

import pydantic
import pytest
import sqlalchemy as sa

import runtime as rt


def test_run_returns_at_once_and_wait_gives_outputs(client: rt.Client) -> None:
    release = threading.Event()
    g = rt.Graph("gated")

    @g.node
    def first(x: int) -> int:
        release.wait(10)
        return x + 1

    @g.node
    def second(first: int) -> int:
        return first * 10

    run = g.run(x=1)
    assert run.status in ("queued", "running")
    release.set()
    run.wait(10)
    assert run.status == "succeeded"
    assert run.outputs == {"second": 20}
    assert run.output("first") == 2
    assert run.inputs == {"x": 1}
    assert [n.status for n in run.nodes.values()] == ["succeeded", "succeeded"]
    assert all(n.attempts == 1 and n.duration is not None for n in run.nodes.values())


def test_independent_nodes_run_concurrently(client: rt.Client) -> None:
    # both nodes must be inside the barrier at the same time, or it breaks
    barrier = threading.Barrier(2, timeout=10)
    g = rt.Graph("parallel")

    @g.node
    def left() -> str:
        barrier.wait()
        return "l"

    @g.node
    def right() -> str:
        barrier.wait()
        return "r"

    run = g.run().wait(20)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"left": "l", "right": "r"}


def test_async_nodes(client: rt.Client) -> None:
    g = rt.Graph("async")

    @g.node
    async def fetch(n: int) -> list[int]:
        await asyncio.sleep(0)
        return list(range(n))

    @g.node
    async def total(fetch: list[int]) -> int:
        return sum(fetch)

    assert g.run(n=5).wait(10).outputs == {"total": 10}


def test_failed_node_shows_traceback_and_skips_downstream(client: rt.Client) -> None:
    g = rt.Graph("failing")

    @g.node
    def ok() -> int:
        return 1

    @g.node
    def broken(ok: int) -> int:
        raise ValueError(f"bad value {ok}")

    @g.node
    def after(broken: int) -> int:
        return broken

    @g.node
    def independent() -> str:
        return "still runs"

    run = g.run().wait(10)
    assert run.status == "failed"
    nodes = run.nodes
    assert nodes["broken"].status == "failed"
    assert nodes["broken"].error_type == "ValueError"
    assert nodes["broken"].error == "bad value 1"
    assert 'raise ValueError(f"bad value {ok}")' in nodes["broken"].traceback
    assert nodes["after"].status == "skipped"
    assert nodes["independent"].status == "succeeded"
    assert "ValueError: bad value 1" in run.error
    assert "node(s) failed: broken" in run.error


def test_retries_with_backoff_then_success(client: rt.Client) -> None:
    calls: list[float] = []
    g = rt.Graph("flaky")

    @g.node(retries=3, backoff=0.05)
    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)} failed")
        return "ok"

    run = g.run().wait(20)
    assert run.status == "succeeded"
    assert run.nodes["flaky"].attempts == 3
    retry_events = [e for e in run.events() if e["type"] == "node.retrying"]
    assert [e["data"]["attempt"] for e in retry_events] == [1, 2]
    # exponential: the second wait is drawn from a range twice as high (jitter 50-100%)
    assert 0.025 <= retry_events[0]["data"]["retry_in"] <= 0.05
    assert 0.05 <= retry_events[1]["data"]["retry_in"] <= 0.1


def test_retries_exhausted_fail_the_run(client: rt.Client) -> None:
    g = rt.Graph("always_fails")

    @g.node(retries=1, backoff=0.01)
    def nope() -> None:
        raise RuntimeError("never works")

    run = g.run().wait(20)
    assert run.status == "failed"
    assert run.nodes["nope"].attempts == 2


def test_timeout_fails_the_attempt(client: rt.Client) -> None:
    g = rt.Graph("slow")
    never = asyncio.Event()

    @g.node(timeout=0.2)
    async def stuck() -> None:
        await never.wait()

    run = g.run().wait(20)
    assert run.status == "failed"
    assert run.nodes["stuck"].error_type == "TimeoutError"
    assert "exceeded its 0.2s timeout" in run.nodes["stuck"].error


def test_cancel_a_running_run(client: rt.Client) -> None:
    started = threading.Event()
    g = rt.Graph("cancellable")

    @g.node
    async def long() -> None:
        started.set()
        await asyncio.sleep(60)

    @g.node
    def later(long: None) -> str:
        return "never"

    run = g.run()
    assert started.wait(10)
    run.cancel()
    run.wait(10)
    assert run.status == "cancelled"
    assert run.nodes["long"].status == "cancelled"
    assert run.nodes["later"].status == "pending"
    assert [e["type"] for e in run.events()][-1] == "run.cancelled"


class Approval(pydantic.BaseModel):
    approved: bool
    reviewer: str
    score: int = pydantic.Field(ge=0, le=10)


def test_wait_pauses_and_resume_continues(client: rt.Client) -> None:
    g = rt.Graph("review")

    @g.node
    def draft(topic: str) -> str:
        return f"draft about {topic}"

    g.wait("approve", Approval, after=["draft"])

    @g.node
    def publish(draft: str, approve: Approval) -> str:
        assert isinstance(approve, Approval)
        return f"{draft} approved by {approve.reviewer} ({approve.score})"

    run = g.run(topic="owls").wait(10)
    assert run.status == "waiting"
    assert run.nodes["approve"].status == "waiting"
    assert run.waiting["approve"]["required"] == ["approved", "reviewer", "score"]

    with pytest.raises(rt.PayloadError) as failure:
        run.resume("approve", {"approved": "maybe", "reviewer": "ana", "score": 11})
    message = str(failure.value)
    assert "payload for wait node 'approve' is invalid" in message
    assert "approved:" in message and "score:" in message
    assert run.status == "waiting"  # nothing lost

    run.resume("approve", approved=True, reviewer="ana", score=9).wait(10)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"publish": "draft about owls approved by ana (9)"}
    assert run.output("approve") == {"approved": True, "reviewer": "ana", "score": 9}


def test_dict_schema_wait_hands_on_a_dict(client: rt.Client) -> None:
    g = rt.Graph("dict_wait")
    g.wait("amount", {"value": float, "currency": (str, "EUR")})

    @g.node
    def show(amount: dict) -> str:
        return f"{amount['value']:.2f} {amount['currency']}"

    run = g.run().wait(10)
    run.resume("amount", {"value": 12.5}).wait(10)
    assert run.outputs == {"show": "12.50 EUR"}


def test_payloads_validate_strictly_as_json(client: rt.Client) -> None:
    import datetime as dt

    g = rt.Graph("strict_wait")
    g.wait("w", {"ok": bool, "count": (int, 1), "share": (float, 0.5), "due": (dt.date, None)})
    run = g.run().wait(10)
    for bad, field in (
        ({"ok": "yes"}, "ok"),
        ({"ok": 1}, "ok"),
        ({"ok": True, "count": "3"}, "count"),
    ):
        with pytest.raises(rt.PayloadError) as caught:
            run.resume("w", bad)
        assert [e["loc"] for e in caught.value.errors] == [(field,)]
        assert run.status == "waiting"
    # what a form sends: real values, an int for a float, a date or its ISO text
    run.resume("w", ok=True, count=3, share=1, due="2026-03-01").wait(10)
    assert run.status == "succeeded"
    assert run.output("w") == {"ok": True, "count": 3, "share": 1.0, "due": "2026-03-01"}


def test_resume_rejects_unknown_node_and_finished_run(client: rt.Client) -> None:
    g = rt.Graph("one_wait")
    g.wait("w", {"ok": bool})
    run = g.run().wait(10)
    with pytest.raises(rt.NotFound, match="'nope' is not a wait node \\(wait nodes: w\\)"):
        run.resume("nope", ok=True)
    run.resume("w", ok=True).wait(10)
    assert run.status == "succeeded"
    with pytest.raises(rt.RunStateError, match="is succeeded and node 'w' is not waiting"):
        run.resume("w", ok=False)


def test_cancel_a_waiting_run(client: rt.Client) -> None:
    g = rt.Graph("cancel_wait")
    g.wait("w", {"ok": bool})
    run = g.run().wait(10)
    assert run.cancel() == "cancelled"
    assert run.status == "cancelled"
    assert run.nodes["w"].status == "cancelled"


def test_node_context_gives_idempotency_key_and_logs(client: rt.Client) -> None:
    import logging

    g = rt.Graph("ctx")

    @g.node(retries=1, backoff=0)
    def step() -> list[str]:
        ctx = rt.current()
        ctx.log("hello from the node")
        logging.getLogger("user.code").warning("careful")
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return [ctx.idempotency_key, ctx.attempt_key]

    run = g.run().wait(10)
    # the idempotency key is the same for every attempt; the attempt key is not
    assert run.outputs["step"] == [f"{run.id}:step", f"{run.id}:step:2"]
    logs = run.nodes["step"].logs
    assert "hello from the node" in logs
    assert "WARNING user.code: careful" in logs


def test_events_are_ordered_without_gaps(client: rt.Client) -> None:
    from tests.core.test_graph import diamond

    run = diamond().run(factor=3).wait(10)
    events = list(run.events())
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run.queued"
    assert events[-1]["type"] == "run.succeeded"
    finished = [e["node"] for e in events if e["type"] == "node.succeeded"]
    assert sorted(finished) == ["a", "b", "c", "d"]
    assert finished[0] == "a" and finished[-1] == "d"


def test_list_and_get_runs(client: rt.Client) -> None:
    from tests.core.test_graph import diamond

    g = diamond()
    done = g.run(factor=1).wait(10)
    other = rt.Graph("other")
    other.wait("w", {"ok": bool})
    waiting = other.run().wait(10)
    assert rt.get_run(done.id) == done
    assert [r.id for r in rt.runs(workflow="diamond")] == [done.id]
    assert [r.id for r in rt.runs(status="waiting")] == [waiting.id]
    assert {r.id for r in rt.runs()} == {done.id, waiting.id}
    by_ada = client.start(g, {"factor": 2}, owner="ada").wait(10)
    assert [r.id for r in rt.runs(owner="ada")] == [by_ada.id]
    assert rt.runs(owner="nobody") == []
    with pytest.raises(rt.NotFound):
        rt.get_run("0" * 32)


def test_missing_input_is_rejected_before_anything_is_stored(client: rt.Client) -> None:
    from tests.core.test_graph import diamond

    with pytest.raises(rt.InputError, match="graph 'diamond': missing required input"):
        diamond().run()
    assert rt.runs() == []


def test_from_functions_module_runs_unchanged(client: rt.Client) -> None:
    from tests.core import sample_dataflow

    g = rt.Graph.from_functions("dataflow", sample_dataflow)
    run = g.run(n=4).wait(10)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"label": "sum/12"}
    assert run.output("doubled")["y"].tolist() == [0, 2, 4, 6]


def test_wait_answered_while_another_branch_runs(client: rt.Client) -> None:
    release = threading.Event()
    g = rt.Graph("overlap")
    g.wait("answer", {"value": int})

    @g.node
    def slow() -> int:
        release.wait(10)
        return 1

    @g.node
    def combine(answer: dict, slow: int) -> int:
        return answer["value"] + slow

    run = g.run()
    for event in run.events(stop_at_end=False, timeout=10):
        if event["type"] == "node.waiting":
            break
    assert run.status == "running"  # slow still holds the run
    run.resume("answer", value=41)
    release.set()
    run.wait(10)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"combine": 42}


def test_sync_nodes_of_several_runs_wait_on_io_side_by_side(client: rt.Client) -> None:
    # 12 nodes of two runs must all be inside their call at once to pass the barrier: more
    # than asyncio's default pool (cores + 4 threads) would let run
    together = threading.Barrier(12, timeout=20)

    def meet() -> int:
        return together.wait()

    g = rt.Graph("side_by_side")
    for i in range(6):
        g.add(f"call{i}", meet)
    runs = [g.run(), g.run()]
    assert [r.wait(40).status for r in runs] == ["succeeded", "succeeded"]


_first_started, _first_may_end = threading.Event(), threading.Event()
_ran: list[str] = []


def _first() -> int:
    _ran.append("first")
    _first_started.set()
    _first_may_end.wait(20)
    return 1


def _second(first: int) -> int:
    _ran.append("second")
    return first + 1


def test_a_pass_cut_short_by_closing_leaves_the_run_to_resume(
    client: rt.Client, db_url: str, tmp_path
) -> None:
    _first_started.clear()
    _first_may_end.clear()
    _ran.clear()
    g = rt.Graph("closing")  # module-level functions: another client can load them
    g.add("first", _first)
    g.add("second", _second)

    run = g.run()
    assert _first_started.wait(20)
    client.engine.close()  # a worker shutting down while the pass is mid-way
    _first_may_end.set()
    # first's checkpoint lands; second cannot start here, and the run is released, not failed
    deadline = time.monotonic() + 20
    while client.store.get_run(run.id).lease_owner is not None:
        assert time.monotonic() < deadline, "the pass did not let go of the run"
        time.sleep(0.02)
    assert run.status == "running" and _ran == ["first"]

    other = rt.connect(db_url, home=tmp_path)
    try:
        assert [r.id for r in other.recover()] == [run.id]
        finished = other.get_run(run.id).wait(20)
        assert finished.status == "succeeded" and finished.outputs == {"second": 2}
        assert _ran == ["first", "second"]
    finally:
        other.close()


def test_output_reads_one_node_not_the_whole_run(client: rt.Client) -> None:
    g = rt.Graph("wide_outputs")
    g.add("src", lambda x: x)
    for i in range(100):
        g.add(f"n{i}", (lambda k: lambda src: src + k)(i), inputs={"src": "src"})
    run = g.run(x=1).wait(60)
    assert run.status == "succeeded", run.error
    statements: list[str] = []

    def seen(conn, cursor, statement, *_: object) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(client.store.engine, "before_cursor_execute", seen)
    try:
        assert run.output("n42") == 43
    finally:
        sa.event.remove(client.store.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if "node_run" in s]
    assert len(reads) == 1 and "node_run.node =" in reads[0], statements
