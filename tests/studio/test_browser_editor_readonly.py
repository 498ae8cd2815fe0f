"""The editor on versions it does not edit, in Chromium: a graph defined in Python code is
drawn whole and read only (its function nodes marked as code, a node's source shown, a
palette kind dragged on adds nothing); an older version of library nodes, opened by its
hash, becomes the draft with "Open as draft", whose node policies are then edited and
saved. Screenshots go to ``test-artifacts/editor_readonly_*.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime import client as client_module
from runtime import drafts
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio
from tests.studio.test_browser_editor import node

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    # a web directory of its own: other editor tests build theirs at the same time
    s = start_studio({}, tmp_path_factory.mktemp("studio"), "embedded-readonly")
    yield s
    stop_studio(s)
    client_module._default = None


def library_draft(template: str) -> dict:
    return {
        "name": "greet",
        "nodes": [
            {"name": "hello", "kind": "template", "options": {"template": template}},
            {
                "name": "shout",
                "kind": "transform",
                "options": {"expression": "{loud: nodes.hello.output}"},
            },
        ],
        "inputs": {"who": {"type": "str"}},
    }


def test_python_graph_read_only_and_older_version_opened_as_draft(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    c = studio.connect()
    c.publish(flows.approval, message="from a notebook", make_current=True)

    page.goto(f"{studio.url}/editor/studio_approval")
    banner = page.locator("#editor-readonly")
    expect(banner).to_contain_text(
        "Defined in Python code: read only here. Change it in its notebook or module",
        timeout=TIMEOUT,
    )
    expect(page.locator("#open-as-draft")).to_have_count(0)  # its nodes are code
    for name in ("draft", "review", "result"):
        expect(node(page, name)).to_have_class(re.compile(r"\bplait-python-node\b"))
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(node(page, "draft").locator(".plait-enode-kind")).to_have_text("function")
    expect(node(page, "draft").locator(".plait-code-badge")).to_have_text("code")
    expect(page.locator("#publish")).to_have_count(0)
    expect(page.locator("#problem-badge")).to_have_count(0)  # not checked as a draft

    # a function node shows the source it runs, its policies, nothing to change
    node(page, "draft").click()
    expect(page.locator("#node-source")).to_contain_text("def draft(topic: str", timeout=TIMEOUT)
    expect(page.locator("#node-kind")).to_have_text("function")
    expect(page.locator('#node-readonly [data-policy="retries"]')).to_contain_text("0")
    expect(page.locator("#node-readonly input, #node-readonly textarea")).to_have_count(0)
    page.screenshot(path=str(artifacts / "editor_readonly_01_python_source.png"))

    # a palette kind dragged onto the canvas adds nothing; a click is refused by the server
    canvas = page.locator(".react-flow__pane")
    expect(page.locator('[data-plait-kind="template"]')).to_have_attribute("draggable", "false")
    page.locator('[data-plait-kind="template"]').drag_to(
        canvas, target_position={"x": 200, "y": 300}
    )
    page.locator('[data-plait-kind="sleep"]').click()
    expect(page.locator("#editor-note")).to_have_text(
        "read only: this version is not edited here", timeout=TIMEOUT
    )
    expect(page.locator(".react-flow__node")).to_have_count(3)
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    assert c.store.draft("studio_approval") is None
    page.screenshot(path=str(artifacts / "editor_readonly_02_nothing_added.png"))

    # a workflow of library nodes, two versions: the older one opened by its hash
    old = c.publish(drafts.build(library_draft("Hi {{ inputs.who }}")), make_current=True)
    c.publish(drafts.build(library_draft("Hello {{ inputs.who }}")), make_current=True)
    page.goto(f"{studio.url}/editor/greet?version={old.version}")
    expect(banner).to_contain_text("An older version: read only here", timeout=TIMEOUT)
    expect(page.locator(".react-flow__node")).to_have_count(2)
    node(page, "hello").click()
    expect(page.locator("#node-options")).to_contain_text("Hi {{ inputs.who }}", timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "editor_readonly_03_older_version.png"))
    page.locator("#open-as-draft").click()
    expect(banner).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator("#editor-note")).to_contain_text(f"version {old.version[:8]} opened")
    expect(page).to_have_url(f"{studio.url}/editor/greet")  # a reload edits the draft
    draft = c.store.draft("greet")
    assert (
        draft is not None and draft.spec["nodes"][0]["options"]["template"] == "Hi {{ inputs.who }}"
    )

    # its node policies, edited in the config panel: a bad number is named by its field
    node(page, "hello").click()
    expect(page.locator("#node-name")).to_have_value("hello", timeout=TIMEOUT)
    retries = page.locator('#node-policies [data-policy="retries"] input')
    retries.fill("two")
    retries.blur()
    expect(page.locator('[data-policy="retries"] .plait-policy-error')).to_have_text(
        "retries: 'two' is not a whole number", timeout=TIMEOUT
    )
    page.screenshot(path=str(artifacts / "editor_readonly_04_policy_error.png"))
    retries.fill("2")
    retries.blur()
    expect(page.locator(".plait-policy-error")).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator("#draft-status")).to_have_text(
        f"saved · revision {draft.revision + 1}", timeout=TIMEOUT
    )
    timeout = page.locator('#node-policies [data-policy="timeout"] input')
    timeout.fill("30")
    timeout.blur()
    expect(page.locator("#draft-status")).to_have_text(
        f"saved · revision {draft.revision + 2}", timeout=TIMEOUT
    )
    page.screenshot(path=str(artifacts / "editor_readonly_05_policies_saved.png"))
    saved = c.store.draft("greet")
    assert saved is not None
    hello = saved.spec["nodes"][0]
    assert (hello["name"], hello["retries"], hello["timeout"]) == ("hello", 2, 30)
    assert "retries" not in saved.spec["nodes"][1]
    built = drafts.build(saved.spec).nodes["hello"]
    assert (built.retries, built.timeout) == (2, 30)

    # the reload edits the draft, its policies shown as saved
    page.reload()
    node(page, "hello").click()
    expect(page.locator('#node-policies [data-policy="retries"] input')).to_have_value(
        "2", timeout=TIMEOUT
    )
    expect(page.locator('#node-policies [data-policy="timeout"] input')).to_have_value("30")
    expect(banner).to_have_count(0)
