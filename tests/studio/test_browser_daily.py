"""The studio as people use it every day, in Chromium: the top bar marks the page in view,
a favicon, the run page's counts and legend, a cancel that asks first, a revoked share
link gone from the copy box, the light theme under a dark OS, and the empty states."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from runtime import client as client_module
from runtime import drafts, gallery
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    s = start_studio({}, home, "embedded-daily")
    yield s
    stop_studio(s)
    client_module._default = None


def current_nav(page: Page) -> str:
    return page.locator('a.plait-nav[aria-current="page"]').inner_text()


def test_an_empty_studio_says_how_to_begin(studio: Studio, page: Page, artifacts: Path) -> None:
    # first: the store has no workflow yet
    page.goto(studio.url + "/")
    empty = page.locator("#no-workflows")
    expect(empty).to_be_visible(timeout=TIMEOUT)
    expect(empty).to_contain_text("Start from a template")
    expect(empty.locator('a[href="/editor"]')).to_be_visible()
    expect(empty.locator(".plait-publish-snippet")).to_contain_text("rt.connect()")
    expect(empty.locator(".plait-publish-snippet")).to_contain_text(".publish(")
    page.screenshot(path=str(artifacts / "studio_empty_workflows.png"), full_page=True)
    expect(empty.locator(".plait-use-template")).to_have_count(len(gallery.templates()))
    empty.locator('.plait-use-template[data-template="contacts-cleanup"]').click()
    # the template is the new workflow's draft, opened in the editor to test-run and publish
    page.wait_for_url(re.compile(r"/editor/contacts-cleanup$"), timeout=TIMEOUT)
    draft = drafts.current_draft(studio.connect(), "contacts-cleanup")
    template_nodes = gallery.template("contacts-cleanup").doc["draft"]["nodes"]
    assert [n["name"] for n in draft.spec["nodes"]] == [n["name"] for n in template_nodes]
    expect(page.locator(".react-flow__node")).to_have_count(len(template_nodes), timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "studio_template_in_editor.png"), full_page=True)


def test_the_top_bar_marks_the_page_in_view_and_there_is_a_favicon(
    studio: Studio, page: Page
) -> None:
    studio.connect().publish(flows.approval)
    page.goto(studio.url + "/")
    expect(page.locator('a.plait-nav[aria-current="page"]')).to_have_text(
        "Workflows", timeout=TIMEOUT
    )
    page.locator('a.plait-nav[href="/runs"]').click()
    expect(page.locator('a.plait-nav[aria-current="page"]')).to_have_text("Runs", timeout=TIMEOUT)
    expect(page.locator("a.plait-nav-current")).to_have_count(1)
    page.goto(studio.url + "/workflows/studio_approval")
    expect(page.locator('a.plait-nav[aria-current="page"]')).to_have_text(
        "Workflows", timeout=TIMEOUT
    )

    icon = page.locator('link[rel="icon"]')
    assert icon.get_attribute("href") == "/favicon.svg"
    with urllib.request.urlopen(studio.url + "/favicon.svg", timeout=10) as response:
        assert response.status == 200
        assert b"<svg" in response.read()


def test_run_page_counts_each_status_and_cancel_asks_first(
    studio: Studio, page: Page, tmp_path: Path, artifacts: Path
) -> None:
    studio.connect().publish(flows.gated)
    gate = tmp_path / "never"
    run_id = studio.start_run("studio_gated", {"gate_file": str(gate)})
    page.goto(f"{studio.url}/runs/{run_id}")
    counts = page.locator("#status-counts")
    expect(counts.locator('[data-status="running"]')).to_have_text("1 running", timeout=TIMEOUT)
    expect(counts.locator('[data-status="pending"]')).to_have_text("1 pending")

    page.locator("#status-legend-open").click()
    legend = page.locator("#status-legend")
    for status in ("succeeded", "failed", "skipped", "cancelled", "pending"):
        expect(legend.locator(f'[data-status="{status}"]')).to_be_visible()
    page.keyboard.press("Escape")

    page.locator("#cancel-run").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Cancel this run?")
    dialog.get_by_text("Keep running").click()  # changing one's mind cancels nothing
    expect(dialog).to_have_count(0)
    expect(page.locator("#run-status")).to_have_text("running")

    page.locator("#cancel-run").click()
    page.locator("#cancel-confirm").click()
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=TIMEOUT)
    expect(page.get_by_text("cancel requested")).to_have_count(0)
    expect(counts.locator('[data-status="succeeded"]')).to_have_text("1 succeeded")
    expect(counts.locator('[data-status="cancelled"]')).to_have_text("1 cancelled")
    expect(counts.locator('[data-status="pending"]')).to_have_text("1 pending")
    # told apart without colour: pending dotted, cancelled struck through
    cancelled = page.locator('.react-flow__node[data-id="gate"]')
    pending = page.locator('.react-flow__node[data-id="summary"]')
    assert cancelled.evaluate("e => getComputedStyle(e).textDecorationLine") == "line-through"
    assert pending.evaluate("e => getComputedStyle(e).borderStyle") == "dotted"
    assert cancelled.evaluate("e => getComputedStyle(e).backgroundColor") != pending.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    page.screenshot(path=str(artifacts / "studio_run_counts.png"), full_page=True)
    gate.touch()  # lets the node's thread end


def test_a_revoked_share_link_leaves_the_copy_box(studio: Studio, page: Page) -> None:
    run = studio.connect().start(flows.approval, {}).wait(60)
    page.goto(f"{studio.url}/runs/{run.id}")
    expect(page.locator("#run-status")).to_have_text("waiting", timeout=TIMEOUT)
    page.locator("#share-run").click()
    page.locator("#share-create").click()
    expect(page.locator("#share-link")).to_have_value(re.compile(r"/r/"), timeout=TIMEOUT)
    page.locator(".plait-share-revoke").click()
    expect(page.locator("#share-message")).to_contain_text("revoked", timeout=TIMEOUT)
    expect(page.locator("#share-link")).to_have_count(0)


def test_the_studio_stays_light_when_the_os_prefers_dark(
    studio: Studio, browser: Browser, artifacts: Path
) -> None:
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(studio.url + "/runs")
        expect(page.locator('a.plait-nav[aria-current="page"]')).to_be_visible(timeout=TIMEOUT)
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        assert "dark" not in (page.locator("html").get_attribute("class") or "")
        theme = page.locator(".radix-themes").first
        assert theme.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
        assert page.locator("body").evaluate("e => getComputedStyle(e).colorScheme") != "dark"
        page.screenshot(path=str(artifacts / "studio_dark_os.png"))
    finally:
        context.close()


def test_waiting_for_input_lists_open_questions_and_who_answered(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    c = studio.connect()
    c.publish(flows.two_waits)
    run = c.start(flows.two_waits, {}).wait(60)
    assert run.status == "waiting"
    page.goto(studio.url + "/runs")
    row = page.locator(f'.plait-waiting-row[data-run="{run.id}"]')
    expect(row).to_have_attribute("data-node", "first", timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "studio_waiting_for_input.png"), full_page=True)
    row.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/runs/{run.id}$"), timeout=TIMEOUT)

    form = page.locator('.plait-wait-form[data-node="first"]')
    field = form.locator('.plait-field[data-field="ok"]')
    expect(field).to_be_visible(timeout=TIMEOUT)
    expect(field.get_by_text("*", exact=True)).to_have_count(0)  # a checkbox always answers
    form.locator(".plait-wait-submit").click()
    expect(page.locator('.plait-wait-form[data-node="second"]')).to_be_visible(timeout=TIMEOUT)

    # the list follows: the run now waits at its second question
    page.goto(studio.url + "/runs")
    expect(row).to_have_attribute("data-node", "second", timeout=TIMEOUT)

    page.goto(f"{studio.url}/runs/{run.id}")
    page.locator('.react-flow__node[data-id="first"]').click()
    user = page.locator("#session-user").inner_text().strip()
    answers = [r.answered_by for r in c.store.attempts(run.id) if r.node == "first"]
    assert answers[-1] and user  # the signed-in (here: the local) user
    expect(page.locator(".plait-node-output")).to_contain_text(
        "answered by " + answers[-1], timeout=TIMEOUT
    )


def test_ctrl_k_finds_workflows_runs_and_nodes_and_short_ids_resolve(
    studio: Studio, page: Page
) -> None:
    c = studio.connect()
    c.publish(flows.approval)
    run = c.start(flows.approval, {}).wait(60)
    page.goto(studio.url + "/runs")
    expect(page.locator('a.plait-nav[aria-current="page"]')).to_be_visible(timeout=TIMEOUT)
    page.keyboard.press("Control+k")
    query = page.locator("#search-query")
    expect(query).to_be_focused(timeout=TIMEOUT)

    query.fill("approv")
    hits = page.locator("#search-hits .plait-search-hit")
    expect(hits.filter(has_text="studio_approval").first).to_be_visible(timeout=TIMEOUT)
    query.fill("review")
    expect(page.locator('.plait-search-hit[data-kind="node"]')).to_contain_text("review")
    query.fill(run.id[:8])
    hit = page.locator('.plait-search-hit[data-kind="run"]')
    expect(hit).to_contain_text(run.id[:12], timeout=TIMEOUT)
    hit.click()
    page.wait_for_url(re.compile(rf"/runs/{run.id}$"), timeout=TIMEOUT)

    # the short id a table shows, typed into the address bar
    page.goto(f"{studio.url}/runs/{run.id[:12]}")
    page.wait_for_url(re.compile(rf"/runs/{run.id}$"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("waiting", timeout=TIMEOUT)
    page.goto(f"{studio.url}/runs/ffffffffffff")
    expect(page.locator(".plait-not-found")).to_contain_text("No run with id", timeout=TIMEOUT)


def test_the_run_log_shows_every_node_live_and_filters(
    studio: Studio, page: Page, tmp_path: Path, artifacts: Path
) -> None:
    c = studio.connect()
    c.publish(flows.gated)
    gate = tmp_path / "open"
    run_id = studio.start_run("studio_gated", {"gate_file": str(gate)})
    page.goto(f"{studio.url}/runs/{run_id}")
    log = page.locator("#run-log")
    lines = log.locator(".plait-run-log-line")
    expect(lines.filter(has_text="node.running").filter(has_text="gate")).to_have_count(
        1, timeout=TIMEOUT
    )
    expect(lines.filter(has_text="node.succeeded")).to_have_count(1)  # prepare, so far
    gate.touch()
    # live: the gate's end, its log line and the run's end arrive without a reload
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    expect(lines.filter(has_text="waits for")).to_have_count(1, timeout=TIMEOUT)
    expect(lines.filter(has_text="run.succeeded")).to_have_count(1, timeout=TIMEOUT)
    texts = lines.locator(".plait-log-text").all_inner_texts()
    assert texts.index("node.running (attempt 1)") < texts.index("run.succeeded")

    failed = c.start(flows.failing, {}).wait(60)
    page.goto(f"{studio.url}/runs/{failed.id}")
    expect(lines.filter(has_text="about to divide")).to_have_count(1, timeout=TIMEOUT)
    expect(lines.filter(has_text="ZeroDivisionError")).to_have_count(1)
    page.locator("#run-log-level").click()
    page.get_by_role("option", name="error", exact=True).click()
    expect(lines).to_have_count(2)  # the node's failure and the run's
    for level in lines.evaluate_all("ls => ls.map(l => l.dataset.level)"):
        assert level == "error"
    page.locator("#run-log-level").click()
    page.get_by_role("option", name="all", exact=True).click()
    page.locator("#run-log-node").click()
    page.get_by_role("option", name="load", exact=True).click()
    expect(lines.first).to_be_visible(timeout=TIMEOUT)
    assert set(lines.evaluate_all("ls => ls.map(l => l.dataset.node)")) == {"load"}
    page.screenshot(path=str(artifacts / "studio_run_log.png"), full_page=True)
