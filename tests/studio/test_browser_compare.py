"""The compare page in Chromium: from a run's "Compare with…" to the per-node table of two
runs of a workflow, with a changed node's diff expanded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime import client as client_module
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio
from tests.workers import wait_for

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    # a build directory of its own: other studio tests may build theirs at the same time
    s = start_studio({}, home, "compare")
    s.connect().publish(flows.failing)
    yield s
    stop_studio(s)
    client_module._default = None


def test_compare_two_runs_from_a_run_page(studio: Studio, page: Page, artifacts: Path) -> None:
    c = studio.connect()
    first = studio.start_run("studio_failing", {"n": 2})
    wait_for(lambda: c.get_run(first).status == "failed", 30)
    second = studio.start_run("studio_failing", {"n": 4})
    wait_for(lambda: c.get_run(second).status == "failed", 30)

    page.goto(f"{studio.url}/runs/{second}")
    page.locator("#compare-run").click()
    page.wait_for_url(f"**/compare?b={second}", timeout=TIMEOUT)
    expect(page.locator(".plait-compare-total")).to_have_text(
        "1 changed, 1 unchanged; inputs changed: n", timeout=TIMEOUT
    )
    # A is the run before it
    expect(page.locator("#compare-a")).to_contain_text(first[:12])
    expect(page.locator("#compare-b")).to_contain_text(second[:12])
    changed = page.locator('.plait-compare-row[data-change="changed"]')
    expect(changed).to_have_count(2)  # the input n, and the node load
    load = page.locator('.plait-compare-row[data-node="load"]')
    expect(load).to_contain_text("data: 2 added")
    expect(page.locator('.plait-compare-row[data-node="explode"]')).to_contain_text("unchanged")
    lines = load.locator(".plait-compare-lines")
    expect(lines).to_be_hidden()
    load.locator(".plait-compare-summary").click()
    expect(lines).to_have_text("+ $[2]: 2\n+ $[3]: 3")
    page.screenshot(path=str(artifacts / "studio_compare.png"), full_page=True)

    # swapping A and B turns the added items into removed ones
    page.locator("#compare-swap").click()
    expect(page.locator('.plait-compare-row[data-node="load"]')).to_contain_text(
        "data: 2 removed", timeout=TIMEOUT
    )
