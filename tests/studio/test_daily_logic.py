"""The studio's everyday helpers: which nav link is current, the run page's counts per
status, and a cancel request that stops being news once the run has ended."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import runtime as rt
from runtime.store.contract import RunRow
from runtime.store.tables import NodeRun
from studio import theme
from studio.logic import forms, run_log, search, templates, waiting
from studio.logic.nav import section_of
from studio.logic.run_page import RunPage, status_counts


def ev(seq: int, kind: str, node: str | None = None, **data: Any) -> dict:
    return {"run_id": "r", "seq": seq, "type": kind, "node": node, "data": data, "at": seq}


@pytest.mark.parametrize(
    ("path", "href"),
    [
        ("/", "/"),
        ("/workflows/etl", "/"),
        ("/runs", "/runs"),
        ("/runs/abc123", "/runs"),
        ("/runs/abc123?node=x", "/runs"),
        ("/compare", "/runs"),
        ("/schedules", "/schedules"),
        ("/editor", "/editor"),
        ("/settings/keys", "/settings/users"),
        ("/runsx", ""),
        ("/login", ""),
    ],
)
def test_the_nav_link_marked_current(path: str, href: str) -> None:
    assert section_of(path) == href


def test_counts_say_every_status_on_its_own() -> None:
    statuses = {
        "a": "succeeded",
        "b": "succeeded",
        "c": "failed",
        "d": "skipped",
        "e": "cancelled",
        "f": "pending",
        "g": "pending",
        "h": "running",
        "i": "waiting",
        "j": "not_needed",
    }
    counts = status_counts(statuses)
    assert [c.text for c in counts] == [
        "2 succeeded",
        "1 failed",
        "1 running",
        "1 waiting",
        "1 skipped",
        "1 cancelled",
        "1 not needed",
        "2 pending",
    ]
    # skipped, cancelled and pending differ in colour and in icon
    trio = {c.status: c for c in counts if c.status in ("skipped", "cancelled", "pending")}
    assert len({c.colour for c in trio.values()}) == 3
    assert len({c.icon for c in trio.values()}) == 3
    assert len({theme.BADGE[s] for s in trio}) == 3


def test_every_node_status_has_a_colour_of_its_own() -> None:
    shown = ("pending", "running", "waiting", "succeeded", "failed", "skipped", "cancelled")
    assert len({theme.status_colour(s) for s in shown}) == len(shown)


def test_cancel_requested_clears_when_the_run_is_cancelled() -> None:
    spec = {"name": "g", "nodes": [{"name": "a", "depends_on": []}, {"name": "b"}]}
    page = RunPage.create(spec, "LR")
    page.apply([ev(1, "run.running", status="running"), ev(2, "node.running", "a", attempt=1)])
    page.render()
    page.apply([ev(3, "run.cancel_requested")])
    assert page.render()["cancel_requested"] is True
    page.apply([ev(4, "node.cancelled", "a"), ev(5, "run.cancelled", status="cancelled")])
    shown = page.render()
    assert shown["cancel_requested"] is False
    assert [c.text for c in shown["status_counts"]] == ["1 cancelled", "1 pending"]


# -- waiting for input -----------------------------------------------------------------------


def test_a_boolean_of_a_wait_form_is_never_marked_required() -> None:
    schema = {
        "properties": {"ok": {"type": "boolean"}, "note": {"type": "string"}},
        "required": ["ok", "note"],
    }
    by_name = {f.name: f for f in forms.wait_fields(schema)}
    assert by_name["ok"].required is False  # unticked answers false
    assert by_name["note"].required is True
    payload, errors = forms.payload_from_form(list(by_name.values()), {"note": "x"})
    assert payload == {"ok": False, "note": "x"} and errors == {}


def test_open_waits_lists_human_questions_oldest_first() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    spec = {
        "nodes": [
            {"name": "review", "schema": {}, "doc": "Approve the draft\nmore"},
            {"name": "child", "subgraph": "x"},
            {"name": "go", "schema": {}},
        ]
    }

    def row(run_id: str) -> RunRow:
        return RunRow(run_id, "wf", "v", 7, "waiting", "api", None, t0, t0, None, None)

    items = waiting.open_waits(
        [row("b" * 32), row("a" * 32)],
        {7: spec},
        {
            "b" * 32: {"review": t0 + dt.timedelta(minutes=5), "child": t0},
            "a" * 32: {"go": t0 + dt.timedelta(minutes=1)},
        },
    )
    assert [(i.short_id, i.node, i.question) for i in items] == [
        ("a" * 12, "go", "go"),
        ("b" * 12, "review", "Approve the draft"),
    ]
    assert items[1].href == "/runs/" + "b" * 32


# -- search and short ids --------------------------------------------------------------------


def test_search_finds_workflows_runs_and_nodes() -> None:
    nodes = {"etl_daily": ["load", "clean"], "reports": ["load_sales", "chart"]}
    found = search.hits("LOAD", nodes, [])
    assert [(h.kind, h.text, h.href) for h in found] == [
        ("node", "load", "/workflows/etl_daily"),
        ("node", "load_sales", "/workflows/reports"),
    ]
    found = search.hits("etl", nodes, ["abcd" + "0" * 28])
    assert [(h.kind, h.text) for h in found] == [("workflow", "etl_daily"), ("run", "abcd00000000")]
    assert search.hits("  ", nodes, []) == []
    assert search.is_run_prefix("abcd") and not search.is_run_prefix("abc")
    assert not search.is_run_prefix("abcz")


def test_short_run_ids_resolve_in_the_store(client: rt.Client) -> None:
    g = rt.Graph("short_ids")
    g.wait("w", {"ok": bool})
    ids = [client.start(g, {}).wait(30).id for _ in range(3)]  # settled: waiting
    store = client.store
    for run_id in ids:
        assert store.run_ids_starting(run_id[:12]) == [run_id]
        assert search.unique_run(store, run_id[:12].upper()) == run_id
    assert sorted(store.run_ids_starting(ids[0][:1], 10)) == sorted(
        i for i in ids if i[0] == ids[0][0]
    )
    assert store.run_ids_starting("%") == [] and store.run_ids_starting("") == []
    assert search.unique_run(store, "ffff_") is None
    assert search.unique_run(store, "abc") is None  # too short to look up


# -- the run-level log -----------------------------------------------------------------------


def test_the_run_log_merges_events_and_log_lines_in_time_order() -> None:
    start = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    t = start.timestamp()
    events = [
        {**ev(1, "run.running", status="running"), "at": t},
        {**ev(2, "node.running", "a", attempt=1), "at": t + 0.1},
        {**ev(3, "map.progress", "a", total=3), "at": t + 0.2},
        {**ev(4, "node.failed", "a", error_type="ZeroDivisionError", error="boom"), "at": t + 2.5},
        {**ev(5, "run.failed", status="failed"), "at": t + 2.6},
    ]
    attempt = NodeRun(
        run_id="r",
        node="a",
        attempt=1,
        status="failed",
        started_at=start,
        ended_at=start + dt.timedelta(seconds=2.5),
        logs="12:00:01 about to divide\n23:59:59 another zone's clock\nno stamp",
    )
    lines = run_log.merged(events, [attempt])  # type: ignore[arg-type]
    assert [(line.node, line.level, line.text) for line in lines] == [
        (run_log.RUN, "info", "run.running"),
        ("a", "info", "node.running (attempt 1)"),
        ("a", "log", "about to divide"),
        ("a", "log", "another zone's clock"),
        ("a", "log", "no stamp"),
        ("a", "error", "node.failed ZeroDivisionError boom"),
        (run_log.RUN, "error", "run.failed"),
    ]
    assert lines[2].time == "12:00:01.000"
    errors = run_log.filtered(lines, level="error")
    assert [line.node for line in errors] == ["a", run_log.RUN]
    assert {line.node for line in run_log.filtered(lines, node="a")} == {"a"}


def test_a_template_used_twice_gives_a_second_workflow() -> None:
    assert templates.free_name("digest", {"other"}) == "digest"
    assert templates.free_name("digest", {"digest", "digest-2"}) == "digest-3"


def test_the_empty_page_offers_every_gallery_template() -> None:
    offered = templates.starters()
    assert len(offered) >= 6
    assert [(t.category, t.title) for t in offered] == sorted(
        (t.category, t.title) for t in offered
    )
