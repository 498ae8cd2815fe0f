"""Page states in-process (no server, no browser): what a burst of events changes, and what
goes to the browser because of it."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import reflex as rx

import studio.studio  # noqa: F401 - registers the pages and their route arguments
from runtime import catalog
from studio import data
from studio.states.run import RunState
from studio.states.runs import ALL, PAGE_SIZE, Filters, page_label
from studio.states.workflows import WorkflowItem, matching, workflow_item
from tests.studio import flows

DELTA_PREFIX = "reflex___state____state.studio___states___run____run_state"


def ev(seq: int, kind: str, node: str | None = None, **data: Any) -> dict:
    return {"run_id": "r", "seq": seq, "type": kind, "node": node, "data": data, "at": float(seq)}


async def _run_state() -> tuple[rx.State, RunState]:
    root = rx.State(_reflex_internal_init=True)
    state = await root.get_state(RunState)
    spec = flows.approval.spec()
    header = data.RunHeader("r" * 32, spec["name"], "0" * 16, 1, "queued", "sdk", "", "", spec, [])
    state._start(header)
    return root, state  # type: ignore[return-value]


def _sent(delta: dict) -> set[str]:
    return {k.removesuffix("_rx_state_") for k in delta.get(DELTA_PREFIX, {})}


def test_a_burst_is_rendered_once_and_only_what_changed_is_sent() -> None:
    async def scenario() -> None:
        root, state = await _run_state()
        state._raw_page().apply(
            [
                ev(1, "run.running"),
                ev(2, "node.running", "draft", attempt=1),
                ev(3, "node.succeeded", "draft", attempt=1),
                ev(4, "node.waiting", "review", attempt=1),
                ev(5, "run.waiting"),
            ],
        )
        state._render()
        assert state.run_status == "waiting"
        assert state.progress == "1 of 3 nodes done · 1 waiting"
        assert [w.node for w in state.waits] == ["review"]
        classes = {n["id"]: n["className"] for n in state.flow_nodes}
        assert "plait-succeeded" in classes["draft"] and "plait-waiting" in classes["review"]
        await root._get_resolved_delta()
        root._clean()

        # the answer arrives: the form goes, the graph and timeline change; inputs do not
        state._raw_page().apply([ev(6, "node.succeeded", "review"), ev(7, "run.queued")])
        state._render()
        sent = _sent(await root._get_resolved_delta())
        assert {"flow_nodes", "waits", "run_status", "timeline_rows", "progress"} <= sent
        assert "inputs" not in sent and "direction" not in sent
        assert state.waits == []

    asyncio.run(scenario())


def test_a_replayed_burst_sends_nothing_new() -> None:
    async def scenario() -> None:
        root, state = await _run_state()
        burst = [ev(1, "run.running"), ev(2, "node.running", "draft", attempt=1)]
        state._raw_page().apply(burst)
        state._render()
        await root._get_resolved_delta()
        root._clean()
        assert state._raw_page().apply(burst) == set()
        state._render()
        assert _sent(await root._get_resolved_delta()) <= {"graph_key", "finished"}

    asyncio.run(scenario())


def test_runs_filters_become_a_query() -> None:
    assert Filters().query() == {
        "workflow": None,
        "status": None,
        "trigger": None,
        "owner": None,
        "limit": PAGE_SIZE,
        "offset": 0,
        "after": None,
    }
    query = Filters("etl", "failed", ALL, page=2, owner="ada").query()
    assert (query["workflow"], query["status"], query["offset"]) == ("etl", "failed", 2 * PAGE_SIZE)
    assert query["owner"] == "ada"
    deep = Filters(page=2, after="c").query()
    assert (deep["offset"], deep["after"]) == (0, "c"), "a cursor, not an offset, past page 1"
    assert page_label(0, 50, 120) == "1-50 of 120"
    assert page_label(3, 50, catalog.COUNT_CAP + 1) == "151-200 of 10,000+"
    assert page_label(0, 0, 0) == "no runs"


def test_workflow_search_matches_every_word() -> None:
    def item(name: str, description: str) -> WorkflowItem:
        summary = catalog.WorkflowSummary(
            name, description, 1, "v", 1, 1, dt.datetime.now(dt.UTC), None, None, None, 0
        )
        return workflow_item(summary)

    items = [item("sales", "Daily revenue report"), item("intake", "Reads revenue files")]
    assert [i.name for i in matching(items, "REVENUE report")] == ["sales"]
    assert [i.name for i in matching(items, "")] == ["sales", "intake"]
