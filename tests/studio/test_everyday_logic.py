"""The address of the runs page and a run's page, and graph labels and search: plain
functions, no browser."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

from runtime import catalog
from studio.logic import layout, urls
from studio.logic.urls import ALL, RunsQuery
from tests.studio import everyday_flows


def _cursor() -> str:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    row = catalog.RunRow("ab" * 16, "etl", "v1", 1, "failed", "api", None, at, None, None, None)
    return catalog.cursor(row)


def _params(href: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(href).query))


def test_the_default_runs_view_is_the_plain_address() -> None:
    assert urls.runs_href(RunsQuery()) == "/runs"
    assert urls.runs_query({}) == RunsQuery()


def test_filters_and_page_go_to_the_address_and_come_back() -> None:
    cursor = _cursor()
    query = RunsQuery("team/etl #2", "failed", "schedule", "ada@example.com", 3, cursor)
    href = urls.runs_href(query)
    assert href.startswith("/runs?workflow=team%2Fetl+%232&status=failed&trigger=schedule")
    assert urls.runs_query(_params(href)) == query
    # only what is not at its default is written
    assert urls.runs_href(RunsQuery(status="failed")) == "/runs?status=failed"


def test_a_bad_address_opens_the_nearest_valid_view() -> None:
    query = urls.runs_query(
        {"status": "exploded", "trigger": "carrier pigeon", "page": "two", "after": "%%%"}
    )
    assert query == RunsQuery()
    assert urls.runs_query({"page": "-4"}).page == 0
    # a cursor without a page is dropped: page 0 starts at the top
    assert urls.runs_query({"after": _cursor()}).after == ""
    assert urls.runs_query({"workflow": "  "}).workflow == ALL


def test_changing_a_filter_goes_back_to_the_first_page() -> None:
    query = RunsQuery(status="failed", page=4, after=_cursor())
    changed = query.filtered("workflow", "etl")
    assert (changed.workflow, changed.status, changed.page, changed.after) == (
        "etl",
        "failed",
        0,
        "",
    )
    assert query.filtered("status", "").status == ALL


def test_known_cursors_keep_the_earlier_pages_a_tab_went_through() -> None:
    assert urls.known_cursors(["a", "b", "c"], 2, "b") == ["a", "b"]  # Back from page 3
    assert urls.known_cursors(["a"], 2, "b") == ["", "b"]  # opened from a bookmark
    assert urls.known_cursors(["a", "b"], 0, "") == []


def test_a_run_address_names_its_selected_node() -> None:
    href = urls.run_href("r1", "extract orders")
    assert href == "/runs/r1?node=extract+orders"
    assert urls.selected_node(_params(href), {"extract orders", "load"}) == "extract orders"
    assert urls.selected_node({"node": "gone"}, {"load"}) == ""
    assert urls.run_href("r1") == "/runs/r1"


def test_long_labels_are_shortened_in_the_middle() -> None:
    assert layout.short_label("load") == "load"
    name = "extract_customer_orders_records"
    short = layout.short_label(name)
    assert len(short) == layout.LABEL_MAX
    assert short.startswith("extract_cu") and short.endswith("_records")
    assert layout.ELLIPSIS in short
    assert layout.short_label("x" * layout.LABEL_MAX) == "x" * layout.LABEL_MAX
    assert layout.short_label("abcdefgh", limit=5) == "ab…gh"


def test_flow_nodes_keep_the_full_name_as_tooltip_and_mark_search_matches() -> None:
    spec = everyday_flows.long_names().spec()
    placed = layout.place(spec)
    nodes = {n["id"]: n for n in layout.flow_nodes(placed, {}, query="ORDERS")}
    node = nodes["transform_customer_orders_records"]
    assert node["data"]["label"] == layout.short_label("transform_customer_orders_records")
    assert node["domAttributes"]["title"] == "transform_customer_orders_records"
    assert "plait-match" in node["className"]
    assert "plait-dim" in nodes["extract_warehouse_stock_records"]["className"]
    found = layout.matching([p.name for p in placed], "orders")
    assert len(found) == 6 and all("customer_orders" in n for n in found)
    plain = layout.flow_nodes(placed, {})
    assert not any("plait-match" in n["className"] or "plait-dim" in n["className"] for n in plain)
    assert layout.matching(["a"], "  ") == []
