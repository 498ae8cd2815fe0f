"""The node panel of the studio's run page, in Chromium, for library nodes: the http node's
request summary (its retries, the secret query value hidden), the code node's stdout and
stderr, the llm node's token usage with the run's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime import client as client_module
from runtime.nodes.http import HIDDEN
from tests import detail_flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    # a web directory of its own: other pages' tests build theirs at the same time
    s = start_studio({}, home, "embedded-details")
    yield s
    stop_studio(s)
    client_module._default = None


def test_the_node_panel_shows_http_summary_stdout_and_token_usage(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    server = detail_flows.FlakyServer()
    try:
        # run by this process on the studio's store (the llm's fake model lives here)
        run = studio.connect().start(detail_flows.graph(), {"base": server.base}).wait(60)
    finally:
        server.stop()
    assert run.status == "succeeded", run.error
    page.goto(f"{studio.url}/runs/{run.id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)

    page.locator('.react-flow__node[data-id="fetch"]').click()
    summary = page.locator(".plait-http-summary")
    expect(summary).to_contain_text(
        f"GET {server.base}/items?api_key={HIDDEN} → 200 in ", timeout=TIMEOUT
    )
    expect(summary).to_contain_text(f"{detail_flows.body_size()} bytes, 1 retry")
    expect(page.locator(".plait-http-try")).to_have_count(2)
    expect(page.locator(".plait-http-try").first).to_contain_text("#1 503 in ")
    expect(page.locator(".plait-document")).to_have_count(0)  # not listed again
    assert detail_flows.API_KEY not in page.content()

    page.locator('.react-flow__node[data-id="clean"]').click()
    expect(page.locator(".plait-stdout")).to_have_text(detail_flows.STDOUT, timeout=TIMEOUT)
    expect(page.locator(".plait-stderr")).to_have_text(detail_flows.STDERR)
    expect(page.locator(".plait-code-run")).to_contain_text("ran ")

    page.locator('.react-flow__node[data-id="answer"]').click()
    expect(page.locator(".plait-token-usage")).to_have_text(
        "11 input + 4 output = 15 tokens", timeout=TIMEOUT
    )
    expect(page.locator(".plait-run-tokens")).to_have_text(
        "run: 11 input + 4 output = 15 tokens in 1 llm node"
    )
    page.screenshot(path=str(artifacts / "studio_node_details.png"), full_page=True)
