"""Everyday use in Chromium: the runs list's filters and a run's selected node live in the
address (Back restores them), a big graph's node search and long labels, and the pages a
phone reads at 390 px wide."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from runtime import client as client_module
from studio.logic.urls import ALL
from studio.states.runs import PAGE_SIZE
from tests.studio import everyday_flows, flows
from tests.studio.conftest import Studio, start_studio, stop_studio
from tests.workers import wait_for

TIMEOUT = 30_000
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    s = start_studio({}, home, "everyday")
    c = s.connect()
    for graph in (flows.failing, flows.approval, everyday_flows.long_names()):
        c.publish(graph)
    yield s
    stop_studio(s)
    client_module._default = None


@pytest.fixture(scope="module")
def runs(studio: Studio) -> dict[str, str]:
    """A failed run, a run waiting for an answer and a finished 36-node run."""
    ids = {
        "failed": studio.start_run("studio_failing"),
        "waiting": studio.start_run("studio_approval", {"topic": "owls"}),
        "big": studio.start_run("studio_long_names"),
    }
    c = studio.connect()
    wanted = {"failed": "failed", "waiting": "waiting", "big": "succeeded"}
    for key, status in wanted.items():
        wait_for(lambda k=key, s=status: c.get_run(ids[k]).status == s, message=f"{key} run")
    return ids


def node(page: Page, name: str) -> Locator:
    return page.locator(f'.react-flow__node[data-id="{name}"]')


def page_overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_filter_is_in_the_address_and_back_restores_it(
    studio: Studio, runs: dict[str, str], page: Page, artifacts: Path
) -> None:
    page.goto(studio.url + "/runs")
    rows = page.locator(".plait-run-row")
    expect(rows).to_have_count(3, timeout=TIMEOUT)

    page.locator("#filter-status").click()
    page.get_by_role("option", name="failed", exact=True).click()
    page.wait_for_url(re.compile(r"/runs\?status=failed$"), timeout=TIMEOUT)
    expect(rows).to_have_count(1, timeout=TIMEOUT)
    expect(rows.first).to_have_attribute("data-run", runs["failed"])

    page.locator("#filter-workflow").click()
    page.get_by_role("option", name="studio_failing", exact=True).click()
    page.wait_for_url(re.compile(r"/runs\?workflow=studio_failing&status=failed$"))
    page.screenshot(path=str(artifacts / "everyday_runs_filtered.png"), full_page=True)

    rows.first.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/runs/{runs['failed']}$"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("failed", timeout=TIMEOUT)

    page.go_back()  # the list as it was left: both filters
    page.wait_for_url(re.compile(r"/runs\?workflow=studio_failing&status=failed$"))
    expect(page.locator("#filter-status")).to_have_text("failed", timeout=TIMEOUT)
    expect(page.locator("#filter-workflow")).to_have_text("studio_failing")
    expect(rows).to_have_count(1, timeout=TIMEOUT)

    page.go_back()  # the filter before that
    page.wait_for_url(re.compile(r"/runs\?status=failed$"))
    expect(page.locator("#filter-workflow")).to_have_text("all", timeout=TIMEOUT)
    expect(page.locator("#filter-status")).to_have_text("failed")

    page.go_back()  # and the unfiltered list
    page.wait_for_url(re.compile(r"/runs/?$"))
    expect(page.locator("#filter-status")).to_have_text("all", timeout=TIMEOUT)
    expect(rows).to_have_count(3, timeout=TIMEOUT)

    # a shared address opens filtered
    page.goto(studio.url + "/runs?workflow=studio_approval")
    expect(page.locator("#filter-workflow")).to_have_text("studio_approval", timeout=TIMEOUT)
    expect(rows).to_have_count(1, timeout=TIMEOUT)
    expect(rows.first).to_have_attribute("data-run", runs["waiting"])


def test_the_page_of_the_list_is_in_the_address(studio: Studio, page: Page) -> None:
    c = studio.connect()
    c.publish(everyday_flows.one_node())
    for _ in range(PAGE_SIZE + 3):
        studio.start_run("studio_many")
    page.goto(studio.url + "/runs?workflow=studio_many")
    rows = page.locator(".plait-run-row")
    label = page.locator(".plait-page-label")
    expect(label).to_have_text(f"1-{PAGE_SIZE} of {PAGE_SIZE + 3}", timeout=TIMEOUT)
    expect(rows).to_have_count(PAGE_SIZE)

    page.locator("#next-page").click()
    page.wait_for_url(re.compile(r"/runs\?workflow=studio_many&page=1&after=[\w-]+$"))
    expect(label).to_have_text(f"{PAGE_SIZE + 1}-{PAGE_SIZE + 3} of {PAGE_SIZE + 3}")
    expect(rows).to_have_count(3)
    second = page.url

    page.go_back()
    page.wait_for_url(re.compile(r"/runs/?\?workflow=studio_many$"))
    expect(label).to_have_text(f"1-{PAGE_SIZE} of {PAGE_SIZE + 3}", timeout=TIMEOUT)
    page.go_forward()
    page.wait_for_url(second)
    expect(rows).to_have_count(3, timeout=TIMEOUT)
    expect(page.locator("#filter-workflow")).to_have_text("studio_many")

    # opened afresh (no earlier page known to this tab), the second page still goes back
    page.goto(second)
    expect(rows).to_have_count(3, timeout=TIMEOUT)
    page.locator("#previous-page").click()
    page.wait_for_url(re.compile(r"/runs/?\?workflow=studio_many$"))
    expect(rows).to_have_count(PAGE_SIZE, timeout=TIMEOUT)
    expect(page.locator("#filter-status")).to_have_text(ALL)


def test_the_selected_node_is_in_the_address(
    studio: Studio, runs: dict[str, str], page: Page
) -> None:
    run_id = runs["failed"]
    page.goto(f"{studio.url}/runs/{run_id}?node=explode")
    selected = re.compile(r"\bplait-selected\b")
    expect(node(page, "explode")).to_have_class(selected, timeout=TIMEOUT)
    expect(page.locator(".plait-node-title")).to_have_text("explode")
    expect(page.locator(".plait-node-panel")).to_contain_text("ZeroDivisionError", timeout=TIMEOUT)

    node(page, "load").click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}\?node=load$"), timeout=TIMEOUT)
    expect(page.locator(".plait-node-title")).to_have_text("load")
    expect(node(page, "explode")).not_to_have_class(selected)

    page.go_back()  # the previous selection
    page.wait_for_url(re.compile(rf"/runs/{run_id}\?node=explode$"), timeout=TIMEOUT)
    expect(node(page, "explode")).to_have_class(selected, timeout=TIMEOUT)
    expect(page.locator(".plait-node-title")).to_have_text("explode")

    page.go_forward()  # and the next one again
    page.wait_for_url(re.compile(rf"/runs/{run_id}\?node=load$"), timeout=TIMEOUT)
    expect(node(page, "load")).to_have_class(selected, timeout=TIMEOUT)
    expect(page.locator(".plait-node-title")).to_have_text("load")

    # closing the panel leaves the node out of the address
    page.locator(".plait-node-close").click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}$"), timeout=TIMEOUT)
    expect(page.locator(".plait-selected")).to_have_count(0)

    page.goto(f"{studio.url}/runs/{run_id}?node=no_such_node")
    expect(page.locator("#run-status")).to_have_text("failed", timeout=TIMEOUT)
    expect(page.locator(".plait-selected")).to_have_count(0)


def test_search_highlights_nodes_of_a_big_graph_with_long_names(
    studio: Studio, runs: dict[str, str], page: Page, artifacts: Path
) -> None:
    page.goto(f"{studio.url}/runs/{runs['big']}")
    nodes = page.locator(".react-flow__node")
    expect(nodes).to_have_count(36, timeout=TIMEOUT)
    name = "transform_warehouse_stock_records"
    long = node(page, name)
    expect(long).to_have_attribute("title", name)
    expect(long).to_have_text("transform_…k_records")

    page.locator("#graph-search").fill("warehouse")
    matches = page.locator(".react-flow__node.plait-match")
    expect(matches).to_have_count(6, timeout=TIMEOUT)
    expect(page.locator(".react-flow__node.plait-dim")).to_have_count(30)
    expect(page.locator("#graph-found")).to_have_text("6 found")
    ids = matches.evaluate_all("nodes => nodes.map(n => n.dataset.id)")
    assert all("warehouse" in i for i in ids)
    # the view moved to the first match: it is drawn inside the panel
    panel = page.locator(".plait-graph").bounding_box()
    first = node(page, "extract_warehouse_stock_records")
    wait_for(lambda: _inside(first.bounding_box(), panel), message="first match in view")
    page.screenshot(path=str(artifacts / "everyday_graph_search.png"), full_page=True)

    page.locator("#graph-search").fill("")
    expect(page.locator(".react-flow__node.plait-dim")).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator("#graph-found")).to_have_text("")


def _inside(box: dict | None, panel: dict | None) -> bool:
    if box is None or panel is None:
        return False
    return (
        box["x"] >= panel["x"]
        and box["y"] >= panel["y"]
        and box["x"] + box["width"] <= panel["x"] + panel["width"]
        and box["y"] + box["height"] <= panel["y"] + panel["height"]
    )


def test_a_phone_reads_runs_and_the_editor_asks_for_a_desktop(
    studio: Studio, runs: dict[str, str], browser: Browser, artifacts: Path
) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(studio.url + "/runs")
        expect(page.locator(".plait-run-row").first).to_be_visible(timeout=TIMEOUT)
        expect(page.locator(".plait-waiting-row").first).to_be_visible()
        assert page_overflow(page) <= PHONE["width"]
        page.screenshot(path=str(artifacts / "everyday_phone_runs.png"), full_page=True)

        for key in ("failed", "waiting", "big"):
            page.goto(f"{studio.url}/runs/{runs[key]}")
            expect(page.locator(".react-flow__node").first).to_be_visible(timeout=TIMEOUT)
            assert page_overflow(page) <= PHONE["width"], key
            graph = page.locator(".plait-graph").bounding_box()
            assert graph is not None and graph["x"] + graph["width"] <= PHONE["width"]
        page.goto(f"{studio.url}/runs/{runs['waiting']}")
        expect(page.locator(".plait-wait-form")).to_be_visible(timeout=TIMEOUT)
        assert page_overflow(page) <= PHONE["width"]
        page.screenshot(path=str(artifacts / "everyday_phone_run.png"), full_page=True)

        page.goto(studio.url + "/")
        expect(page.locator(".plait-workflow-row").first).to_be_visible(timeout=TIMEOUT)
        assert page_overflow(page) <= PHONE["width"]
        page.screenshot(path=str(artifacts / "everyday_phone_workflows.png"), full_page=True)

        page.goto(studio.url + "/editor")
        notice = page.locator("#editor-needs-desktop")
        expect(notice).to_be_visible(timeout=TIMEOUT)
        expect(notice).to_contain_text("The editor needs a desktop-width screen")
        page.screenshot(path=str(artifacts / "everyday_phone_editor.png"))
    finally:
        context.close()

    # on a desktop the editor says nothing of the kind
    desktop = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = desktop.new_page()
        page.goto(studio.url + "/editor")
        expect(page.locator("#canvas")).to_be_visible(timeout=TIMEOUT)
        expect(page.locator("#editor-needs-desktop")).to_be_hidden()
    finally:
        desktop.close()
