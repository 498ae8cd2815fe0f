"""A branch's run page in Chromium: the untaken path's nodes and the edges into them are
greyed and dashed, the taken path is not, and the node panel says why a node was skipped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime import client as client_module
from tests.studio import branch_flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    s = start_studio({}, home, "embedded")
    s.connect().publish(branch_flows.routed)
    yield s
    stop_studio(s)
    client_module._default = None


def test_the_untaken_path_is_greyed_on_the_run_page(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    run_id = studio.start_run("studio_routed", {"amount": 500})
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    untaken = re.compile(r"\bplait-untaken\b")
    for name in ("small", "after_small"):
        node = page.locator(f'.react-flow__node[data-id="{name}"]')
        expect(node).to_have_class(untaken, timeout=TIMEOUT)
    for name in ("route", "big", "report"):
        node = page.locator(f'.react-flow__node[data-id="{name}"]')
        expect(node).not_to_have_class(untaken)
    # route->small, small->after_small, small->report
    expect(page.locator(".react-flow__edge.plait-untaken")).to_have_count(3)
    page.screenshot(path=str(artifacts / "studio_branch_untaken.png"), full_page=True)

    page.locator('.react-flow__node[data-id="small"]').click()
    expect(page.locator(".plait-skipped-because")).to_have_text(
        "Skipped: not taken: branch 'route' took big", timeout=TIMEOUT
    )
