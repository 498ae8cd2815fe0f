"""Sub-graphs in the studio, in Chromium: a run page links its sub-graph node's child run
with the child's progress, the node panel too, and the child's page links back to its
parent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime import client as client_module
from runtime.nodes.subgraph import child_run_id
from tests.core import subgraph_flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    # a web directory of its own: other pages' tests build theirs at the same time
    s = start_studio({}, home, "embedded-subgraphs")
    s.connect().publish(subgraph_flows.outer)
    yield s
    stop_studio(s)
    client_module._default = None


def test_run_page_links_the_child_run_and_back(studio: Studio, page: Page, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    run_id = studio.start_run("subgraph_outer", {"n": 2, "ledger": str(ledger)})
    child = child_run_id(run_id, "inner")
    page.goto(f"{studio.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    link = page.locator(".plait-child-run")
    expect(link).to_have_text(
        re.compile(rf"inner: child run {child[:12]} \(subgraph_inner\): succeeded · 1/1"),
        timeout=TIMEOUT,
    )
    nested = page.locator(".plait-child-nodes")
    expect(nested).to_be_hidden()
    page.locator(".plait-child summary").click(position={"x": 2, "y": 8})  # the marker
    expect(nested).to_be_visible(timeout=TIMEOUT)
    expect(nested).to_contain_text(re.compile(r"\w+: succeeded"))
    link.click()
    expect(page).to_have_url(re.compile(rf"/runs/{child}$"), timeout=TIMEOUT)
    expect(page.locator("#parent-run")).to_have_text(
        f"child of run {run_id[:12]} (node inner)", timeout=TIMEOUT
    )
    page.locator("#parent-run").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}$"), timeout=TIMEOUT)
