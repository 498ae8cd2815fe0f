"""The studio in Chromium, embedded mode: ``plait studio`` alone executes the runs it starts
and pushes every change to the open pages over its websocket."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

import runtime as rt
from runtime import audit, sharing
from runtime import client as client_module
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio
from tests.workers import wait_for

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    s = start_studio({}, home, "embedded")
    c = s.connect()
    for graph in (
        flows.gated,
        flows.approval,
        flows.failing,
        flows.typed,
        flows.wide,
        flows.charted,
        flows.two_waits,
    ):
        c.publish(graph)
    yield s
    stop_studio(s)
    client_module._default = None


def node(page: Page, name: str) -> Locator:
    return page.locator(f'.react-flow__node[data-id="{name}"]')


def status_class(status: str) -> re.Pattern[str]:
    return re.compile(rf"\bplait-{status}\b")


def test_start_a_run_from_the_form_and_watch_a_node_finish(
    studio: Studio, page: Page, tmp_path: Path, artifacts: Path
) -> None:
    gate = tmp_path / "open"
    page.goto(studio.url + "/workflows/studio_gated")
    form = page.locator("#run-form")
    expect(form.locator("input[name=rows]")).to_have_value("3")
    form.locator("input[name=gate_file]").fill(str(gate))
    form.locator("#start-run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"), timeout=TIMEOUT)

    expect(node(page, "prepare")).to_have_class(status_class("succeeded"), timeout=TIMEOUT)
    expect(node(page, "gate")).to_have_class(status_class("running"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("running")
    page.screenshot(path=str(artifacts / "studio_node_running.png"), full_page=True)

    gate.touch()
    expect(node(page, "gate")).to_have_class(status_class("succeeded"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    expect(node(page, "summary")).to_have_class(status_class("succeeded"))

    # the run records what the form sent, and where it came from
    run_id = page.url.rsplit("/", 1)[1]
    status, body = studio.api("GET", f"/api/v1/runs/{run_id}")
    assert status == 200
    assert body["trigger"] == "studio"
    assert body["inputs"] == {"rows": 3, "gate_file": str(gate)}

    node(page, "prepare").click()
    output = page.locator(".plait-node-output")
    expect(output).to_contain_text("DataFrame: 3 rows, 2 columns", timeout=TIMEOUT)
    expect(output.locator("table")).to_contain_text("square")
    node(page, "summary").click()
    expect(output.locator(".plait-markdown h1")).to_have_text("Summary", timeout=TIMEOUT)
    expect(page.locator(".plait-document")).to_contain_text("squares")
    expect(page.locator(".plait-document")).to_contain_text("DataFrame: 8 rows, 2 columns")
    expect(page.locator(".plait-timeline-row")).to_have_count(3)
    page.screenshot(path=str(artifacts / "studio_run_succeeded.png"), full_page=True)


def test_wait_form_shows_errors_inline_then_resumes(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    run_id = studio.start_run("studio_approval", {"topic": "owls"})
    page.goto(f"{studio.url}/runs/{run_id}")
    form = page.locator(".plait-wait-form")
    expect(form).to_contain_text("Approve the draft", timeout=TIMEOUT)
    expect(node(page, "review")).to_have_class(status_class("waiting"))
    # what is being approved: the output of the node it waits after, beside the form
    context = form.locator(".plait-wait-context")
    expect(context).to_contain_text("draft", timeout=TIMEOUT)
    expect(context).to_contain_text("owls")

    form.locator("input[name=amount]").fill("0")
    form.locator(".plait-wait-submit").click()
    error = form.locator('.plait-field-error[data-field="amount"]')
    expect(error).to_contain_text("greater than or equal to 1", timeout=TIMEOUT)
    expect(context).to_contain_text("owls")  # an error keeps the context
    expect(node(page, "review")).to_have_class(status_class("waiting"))
    page.screenshot(path=str(artifacts / "studio_wait_form_error.png"), full_page=True)

    form.locator("input[name=amount]").fill("4")
    form.locator("input[name=note]").fill("ship it")
    form.locator(".plait-wait-submit").click()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    expect(page.locator(".plait-wait-form")).to_have_count(0)
    expect(page.locator(".plait-outputs")).to_contain_text("amount: 4")
    assert studio.connect().get_run(run_id).output("review")["note"] == "ship it"

    # the result is JSON: a tree whose containers fold
    node(page, "result").click()
    tree = page.locator(".plait-node-output .plait-json-row")
    expect(tree).to_have_count(4, timeout=TIMEOUT)  # {3 keys}, topic, amount, decision
    tree.first.click()
    expect(tree).to_have_count(1)
    expect(tree.first).to_contain_text("▸ {3 keys}")
    page.screenshot(path=str(artifacts / "studio_wait_form_done.png"), full_page=True)


def test_a_failed_node_shows_its_traceback_and_logs(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    run_id = studio.start_run("studio_failing")
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("failed", timeout=TIMEOUT)
    expect(node(page, "explode")).to_have_class(status_class("failed"))
    node(page, "explode").click()
    traceback = page.locator(".plait-traceback")
    expect(traceback).to_contain_text("ZeroDivisionError", timeout=TIMEOUT)
    expect(traceback).to_contain_text("in _divide")
    expect(page.locator(".plait-logs")).to_contain_text("about to divide")
    page.screenshot(path=str(artifacts / "studio_failed_node.png"), full_page=True)

    # Retry continues this run: the failed node runs again, the one that succeeded does not
    page.locator("#retry-run").click()
    run = studio.connect().get_run(run_id)
    wait_for(
        lambda: run.status == "failed" and run.nodes["explode"].attempts == 2,
        message="the retried run failed again",
    )
    expect(page.locator("#run-status")).to_have_text("failed", timeout=TIMEOUT)
    assert run.nodes["load"].attempts == 1
    assert page.url.endswith(f"/runs/{run_id}?node=explode")  # same page, node still picked
    expect(page.locator("#retry-run")).to_be_enabled(timeout=TIMEOUT)

    # Rerun starts a new run of the same version with the same inputs
    page.locator("#rerun-run").click()
    page.wait_for_url(re.compile(r"/runs/(?!" + run_id + r")[0-9a-f]{32}$"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("failed", timeout=TIMEOUT)


def test_retry_continues_a_cancelled_run_live_on_its_page(
    studio: Studio, page: Page, tmp_path: Path
) -> None:
    gate = tmp_path / "open"
    run_id = studio.start_run("studio_gated", {"gate_file": str(gate)})
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(node(page, "gate")).to_have_class(status_class("running"), timeout=TIMEOUT)
    expect(page.locator("#retry-run")).to_be_disabled()  # nothing to retry while it runs
    page.locator("#cancel-run").click()
    page.locator("#cancel-confirm").click()  # "Cancel this run?"
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=TIMEOUT)

    page.locator("#retry-run").click()
    # the cancelled attempt's thread still waits for the gate: the new one waits for it
    expect(page.locator("#run-status")).to_have_text("running", timeout=TIMEOUT)
    expect(node(page, "gate")).to_have_class(status_class("pending"))
    gate.touch()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    expect(node(page, "summary")).to_have_class(status_class("succeeded"), timeout=TIMEOUT)
    assert page.url.endswith(f"/runs/{run_id}")
    run = studio.connect().get_run(run_id)
    assert run.nodes["prepare"].attempts == 1 and run.nodes["gate"].attempts == 2


def test_two_tabs_on_one_run_both_update(
    studio: Studio, browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    gate = tmp_path / "open"
    run_id = studio.start_run("studio_gated", {"gate_file": str(gate)})
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        tabs = [context.new_page(), context.new_page()]
        for tab in tabs:
            tab.goto(f"{studio.url}/runs/{run_id}")
            expect(node(tab, "gate")).to_have_class(status_class("running"), timeout=TIMEOUT)
        gate.touch()
        for tab in tabs:
            expect(node(tab, "gate")).to_have_class(status_class("succeeded"), timeout=TIMEOUT)
            expect(tab.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
        tabs[1].screenshot(path=str(artifacts / "studio_second_tab.png"))
    finally:
        context.close()


def test_cancel_a_running_run(studio: Studio, page: Page, tmp_path: Path) -> None:
    gate = tmp_path / "never"
    run_id = studio.start_run("studio_gated", {"gate_file": str(gate)})
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(node(page, "gate")).to_have_class(status_class("running"), timeout=TIMEOUT)
    page.locator("#cancel-run").click()
    page.locator("#cancel-confirm").click()  # "Cancel this run?"
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=TIMEOUT)
    expect(node(page, "summary")).to_have_class(status_class("pending"))
    gate.touch()  # lets the node's thread end


def test_unknown_run_shows_a_404_page(studio: Studio, page: Page) -> None:
    page.goto(studio.url + "/runs/0123456789abcdef0123456789abcdef")
    expect(page.locator(".plait-not-found")).to_contain_text("No run with id", timeout=TIMEOUT)
    page.goto(studio.url + "/no/such/page")
    expect(page.locator(".plait-not-found")).to_contain_text("does not exist", timeout=TIMEOUT)


def test_runs_page_is_live_and_filters(
    studio: Studio, page: Page, tmp_path: Path, artifacts: Path
) -> None:
    studio.start_run("studio_failing")
    page.goto(studio.url + "/runs")
    expect(page.locator(".plait-run-row").first).to_be_visible(timeout=TIMEOUT)

    gate = tmp_path / "open"
    run_id = studio.start_run("studio_gated", {"gate_file": str(gate)})
    row = page.locator(f'.plait-run-row[data-run="{run_id}"]')
    expect(row).to_have_attribute("data-status", "running", timeout=TIMEOUT)
    gate.touch()
    expect(row).to_have_attribute("data-status", "succeeded", timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "studio_runs.png"), full_page=True)

    page.locator("#filter-status").click()
    page.get_by_role("option", name="failed", exact=True).click()
    expect(row).to_have_count(0, timeout=TIMEOUT)
    rows = page.locator(".plait-run-row")
    expect(rows.first).to_be_visible()
    statuses = rows.evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert set(statuses) == {"failed"}


def test_workflows_page_lists_and_searches(studio: Studio, page: Page, artifacts: Path) -> None:
    page.goto(studio.url + "/")
    rows = page.locator(".plait-workflow-row")
    expect(rows.filter(has_text="studio_wide")).to_contain_text("300", timeout=TIMEOUT)
    expect(rows.filter(has_text="studio typed inputs")).to_contain_text("never run")
    page.screenshot(path=str(artifacts / "studio_workflows.png"), full_page=True)
    page.locator("#search").fill("human decision")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-workflow", "studio_approval")


def test_run_form_is_typed_and_names_bad_values(studio: Studio, page: Page) -> None:
    page.goto(studio.url + "/")
    page.get_by_role("link", name="studio typed inputs").click()
    form = page.locator("#run-form")
    expect(form.locator("input[name=ratio]")).to_have_value("0.5", timeout=TIMEOUT)
    form.locator("input[name=count]").fill("many")
    form.locator("#start-run").click()
    expect(form.locator('.plait-field-error[data-field="count"]')).to_contain_text(
        "not a whole number", timeout=TIMEOUT
    )
    form.locator("input[name=count]").fill("7")
    form.locator("button[role=checkbox]").click()
    form.locator("#start-run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    run = studio.connect().get_run(page.url.rsplit("/", 1)[1])
    assert run.output("echo") == {"count": 7, "ratio": 0.5, "label": "X"}


def test_run_form_shows_a_type_error_found_at_start_next_to_its_field(
    studio: Studio, page: Page
) -> None:
    """JSON the form accepts, of the wrong type: the start refuses it and names the field."""
    c = studio.connect()
    c.publish(flows.typed_lists)
    page.goto(studio.url + "/")
    page.get_by_role("link", name="studio typed lists").click()
    form = page.locator("#run-form")
    form.locator("[name=sizes]").fill('[1, "x"]')
    form.locator("#start-run").click()
    expect(form.locator('.plait-field-error[data-field="sizes"]')).to_contain_text(
        "expects list[int]", timeout=TIMEOUT
    )
    assert c.runs(workflow="studio typed lists") == []
    form.locator("[name=sizes]").fill("[1, 2]")
    form.locator("#start-run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    assert c.get_run(page.url.rsplit("/", 1)[1]).outputs == {"sizes_total": 3}


def test_workflow_versions_and_their_diff(studio: Studio, page: Page, artifacts: Path) -> None:
    c = studio.connect()
    first = rt.Graph("team/versions #2")
    first.add("load", flows._root)
    first.add("clean", flows._step, inputs={"value": "load"})
    c.publish(first)
    second = rt.Graph("team/versions #2")
    second.add("load", flows._root)
    second.add("clean", flows._step, inputs={"value": "load"}, retries=2)
    second.add("report", flows._step, inputs={"value": "clean"})
    c.publish(second)

    page.goto(studio.url + "/")
    page.get_by_role("link", name="team/versions #2").click()  # a name that needs escaping
    expect(page.locator(".plait-version-row")).to_have_count(2, timeout=TIMEOUT)
    # published by this process, on the store's side: as its OS user
    expect(page.locator(".plait-version-publisher")).to_have_text([audit.cli_actor()] * 2)
    expect(page.locator(".plait-diff-summary")).to_have_text("1 added, 1 changed")
    expect(page.locator('.plait-diff-row[data-change="added"]')).to_contain_text("report")
    expect(page.locator('.plait-diff-row[data-change="changed"]')).to_contain_text("retries 0 → 2")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    page.locator(".plait-version-row").nth(1).locator(".plait-version-pick").click()
    expect(page.locator(".react-flow__node")).to_have_count(2, timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "studio_versions.png"), full_page=True)
    page.get_by_role("link", name="all", exact=True).click()
    page.wait_for_url(re.compile(r"/runs\?workflow=team%2Fversions"), timeout=TIMEOUT)
    expect(page.locator("#filter-workflow")).to_have_text("team/versions #2", timeout=TIMEOUT)


def test_a_300_node_graph_draws(studio: Studio, page: Page, artifacts: Path) -> None:
    page.goto(studio.url + "/workflows/studio_wide")
    expect(page.locator(".react-flow__node")).to_have_count(300, timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "studio_300_nodes.png"))


def test_share_link_is_created_listed_opened_without_login_and_revoked(
    studio: Studio, page: Page, browser: Browser, artifacts: Path
) -> None:
    run_id = studio.start_run("studio_failing")
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("failed", timeout=TIMEOUT)
    page.locator("#share-run").click()
    expect(page.get_by_text("This run has no share links yet.")).to_be_visible(timeout=TIMEOUT)
    page.locator("#share-lifetime").click()
    page.get_by_role("option", name="1 day").click()
    page.locator("#share-create").click()
    link = page.locator("#share-link")
    expect(link).to_have_value(re.compile(rf"^{re.escape(studio.url)}/r/[\w-]{{32,}}$"))
    url = link.input_value()
    row = page.locator(".plait-share-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", "active")
    expect(row).to_contain_text("in 23 h")  # one day, counted down
    page.screenshot(path=str(artifacts / "studio_share_dialog.png"))

    # a fresh browser context: no cookie, no studio session, nothing but the link
    stranger = browser.new_context().new_page()
    stranger.goto(url)
    expect(stranger.locator("body")).to_contain_text("studio_failing")
    expect(stranger.locator('[data-run-status="failed"]')).to_have_count(1)
    assert stranger.locator("button, form, input").count() == 0  # nothing to act with
    stranger.screenshot(path=str(artifacts / "share_page.png"), full_page=True)

    row.locator(".plait-share-revoke").click()
    expect(row).to_have_attribute("data-state", "revoked", timeout=TIMEOUT)
    expect(page.locator("#share-message")).to_contain_text("revoked")
    expect(row.locator(".plait-share-revoke")).to_have_count(0)
    stranger.reload()
    expect(stranger.locator("h1")).to_have_text("This link is no longer valid")
    assert run_id not in stranger.content()
    stranger.context.close()

    # closing the dialog forgets the token; the list stays
    page.keyboard.press("Escape")
    page.locator("#share-run").click()
    expect(page.locator(".plait-share-row")).to_have_count(1)
    expect(page.locator("#share-link")).to_have_count(0)


def test_a_live_share_page_draws_a_figure_that_arrives_while_it_is_open(
    studio: Studio, page: Page
) -> None:
    run_id = studio.start_run("studio_chart")
    c = studio.connect()
    assert c.get_run(run_id).wait(30).status == "waiting"
    _, path = sharing.create_link(run_id, client=c)
    page.goto(studio.url + path)
    expect(page.locator('[data-run-status="waiting"]')).to_have_count(1)
    assert page.locator("#plotly-js").count() == 0  # no figure yet, no plotly.js
    status, _ = studio.api(
        "POST", f"/api/v1/runs/{run_id}/resume", {"node": "go", "payload": {"bars": 3}}
    )
    assert status == 200
    figure = page.locator('section.node[data-node="chart"] .plotly-figure')
    expect(figure.locator("g.point")).to_have_count(3, timeout=TIMEOUT)
    expect(page.locator('[data-run-status="succeeded"]')).to_have_count(1)


def test_a_live_share_page_keeps_following_after_it_refreshed(studio: Studio, page: Page) -> None:
    run_id = studio.start_run("studio_two_waits")
    c = studio.connect()
    assert c.get_run(run_id).wait(30).status == "waiting"
    _, path = sharing.create_link(run_id, client=c)
    page.goto(studio.url + path)
    first = page.locator('section.node[data-node="first"]')
    expect(first).to_have_attribute("data-status", "waiting")

    def answer(node: str) -> None:
        status, _ = studio.api(
            "POST", f"/api/v1/runs/{run_id}/resume", {"node": node, "payload": {"ok": True}}
        )
        assert status == 200

    answer("first")  # the page refreshes while the run is still going...
    expect(first).to_have_attribute("data-status", "succeeded", timeout=TIMEOUT)
    expect(page.locator('section.node[data-node="second"]')).to_have_attribute(
        "data-status", "waiting", timeout=TIMEOUT
    )
    answer("second")  # ...and still follows it to the end
    expect(page.locator('[data-run-status="succeeded"]')).to_have_count(1, timeout=TIMEOUT)


def test_the_node_panel_draws_a_plotly_figure(studio: Studio, page: Page) -> None:
    run_id = studio.start_run("studio_chart")
    c = studio.connect()
    assert c.get_run(run_id).wait(30).status == "waiting"
    c.get_run(run_id).resume("go", bars=4, answered_by="test")
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    node(page, "chart").click()
    drawn = page.locator(".plait-node-output .plait-plotly")
    expect(drawn.locator("g.point")).to_have_count(4, timeout=TIMEOUT)


def test_api_docs_load_nothing_from_the_internet(studio: Studio, page: Page) -> None:
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urllib.parse.urlsplit(r.url).hostname or r.url))
    page.goto(studio.url + "/api/v1/docs")
    expect(page.locator(".swagger-ui .info")).to_contain_text("Plait API", timeout=TIMEOUT)
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.goto(studio.url + "/")
    expect(page.locator(".plait-workflow-row").first).to_be_visible(timeout=TIMEOUT)
    assert hosts == {"127.0.0.1"}


def test_the_studio_says_where_it_listens(studio: Studio) -> None:
    said = studio.log.read_text()
    assert f"plait studio: http://127.0.0.1:{studio.url.rsplit(':', 1)[1]}" in said
    assert "(listening on 127.0.0.1)" in said
    assert "no users yet: you are the single local user (admin)" in said
    assert "runs execute in this process" in said
    assert "only this machine can connect; with users, --host 0.0.0.0 shares it" in said
