"""An LLM node's text streams into the run page's node panel while it runs (the studio
executes the run, embedded), and its checkpointed output replaces it when it ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime import client as client_module
from tests.studio.conftest import Studio, start_studio, stop_studio
from tests.studio.test_browser import TIMEOUT, node, status_class
from tests.token_models import story_graph


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio-tokens")
    s = start_studio({}, home, "embedded")
    yield s
    stop_studio(s)
    client_module._default = None


def test_streamed_text_shows_in_the_node_panel_then_the_output(
    studio: Studio, page: Page, tmp_path: Path, artifacts: Path
) -> None:
    c = studio.connect()
    c.publish(story_graph("studio_story", tmp_path))
    run_id = studio.start_run("studio_story", {"topic": "owls"})
    page.goto(f"{studio.url}/runs/{run_id}")
    # running on the page: its listener subscribed before it read the history
    expect(node(page, "answer")).to_have_class(status_class("running"), timeout=TIMEOUT)
    node(page, "answer").click()
    expect(page.locator(".plait-node-title")).to_have_text("answer", timeout=TIMEOUT)
    expect(page.locator("#node-stream")).to_have_count(0)

    (tmp_path / "go").touch()
    stream = page.locator("#node-stream")
    expect(stream).to_have_text("Once upon", timeout=TIMEOUT)
    expect(page.locator("#node-streaming")).to_be_visible()
    expect(node(page, "answer")).to_have_class(status_class("streaming"))
    assert c.get_run(run_id).nodes["answer"].status == "running"  # the rest is held back
    page.screenshot(path=str(artifacts / "studio_tokens_streaming.png"), full_page=True)

    (tmp_path / "finish").touch()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    output = page.locator(".plait-node-output")
    expect(output).to_contain_text("Once upon a time the end.", timeout=TIMEOUT)
    expect(stream).to_have_count(0)
    expect(node(page, "answer")).not_to_have_class(status_class("streaming"))
    assert c.get_run(run_id).output("answer") == "Once upon a time the end."
