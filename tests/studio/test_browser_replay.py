""" "Replay from here" in Chromium: the node panel's form, the plan drawn on the graph before
confirming, and the replay's page linking its source."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from runtime import client as client_module
from tests.core import replay_flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = start_studio({}, tmp_path_factory.mktemp("studio"), "embedded")
    s.connect().publish(replay_flows.pipeline(fixed=True))
    yield s
    stop_studio(s)
    client_module._default = None


def node(page: Page, name: str) -> Locator:
    return page.locator(f'.react-flow__node[data-id="{name}"]')


def test_replay_from_a_node_with_an_edited_input(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    source_id = studio.start_run("replay-pipeline", {"rows": 6, "title": "draft"})
    client = studio.connect()
    assert client.get_run(source_id).wait(60).status == "succeeded"
    page.goto(f"{studio.url}/runs/{source_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    expect(page.locator("#run-replay-of")).to_have_count(0)

    node(page, "clean").click()
    page.locator("#replay-from-here").click()
    page.locator("#replay-inputs").fill('{"title": "final"}')
    page.locator("#replay-preview").click()
    expect(page.locator("#replay-summary")).to_have_text("1 reused · 4 re-run", timeout=TIMEOUT)
    # the plan on the graph, before anything runs
    expect(node(page, "fetch")).to_have_class(re.compile(r"\bplait-plan-reused\b"))
    expect(node(page, "clean")).to_have_class(re.compile(r"\bplait-plan-rerun\b"))
    expect(node(page, "label")).to_contain_text("label · re-run")
    expect(page.locator(".plait-plan-row").first).to_contain_text("changed input title")
    expect(page.locator(".plait-plan-row")).to_have_count(5)
    assert client.runs(workflow="replay-pipeline", limit=10)[0].id == source_id
    page.screenshot(path=str(artifacts / "studio_replay_plan.png"), full_page=True)

    page.locator("#replay-confirm").click()
    page.wait_for_url(re.compile(r"/runs/(?!" + source_id + r")[0-9a-f]{32}$"), timeout=TIMEOUT)
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    expect(page.locator("#run-replay-of")).to_have_text(source_id)
    replay = client.get_run(page.url.rsplit("/", 1)[1])
    assert replay.replay_of == source_id and replay.record.trigger == "studio"
    assert replay.output("label") == "FINAL"
    assert replay.output("summary") == client.get_run(source_id).output("summary")
    page.screenshot(path=str(artifacts / "studio_replay_done.png"), full_page=True)
