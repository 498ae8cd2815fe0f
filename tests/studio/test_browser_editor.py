"""Building a workflow in the studio's editor, in Chromium: two nodes dragged from the
palette, connected, configured with an expression, a validation error seen and fixed, a
move undone, a node deleted, a node copied and pasted, then a test run whose nodes turn
succeeded on the canvas. Each step is screenshotted into ``test-artifacts/``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from runtime import client as client_module
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = start_studio({}, tmp_path_factory.mktemp("studio"), "embedded")
    yield s
    stop_studio(s)
    client_module._default = None


def node(page: Page, name: str) -> Locator:
    return page.locator(f'.react-flow__node[data-id="{name}"]')


def drag_between(page: Page, source: Locator, target: Locator) -> None:
    """A mouse drag from the centre of one element to the centre of another, in steps (as
    a hand moves; React Flow starts a connection or a move only after some movement)."""
    a, b = source.bounding_box(), target.bounding_box()
    assert a is not None and b is not None
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
    page.mouse.up()


def set_config(page: Page, field: str, value: str) -> None:
    row = page.locator(f'#node-config [data-field="{field}"]')
    box = row.locator("textarea, input, select").first
    box.fill(value)
    box.blur()


def add_run_input(page: Page, name: str, default: str) -> None:
    """A run input declared in the Inputs tab, with its default."""
    page.get_by_role("tab", name="Inputs").click()
    page.get_by_role("button", name="Add input").click()
    name_box = page.locator(".plait-run-input").get_by_placeholder("name", exact=True).last
    name_box.fill(name)
    name_box.blur()
    default_box = page.get_by_placeholder("default (empty: required)").last
    default_box.fill(default)
    default_box.blur()


def position(locator: Locator) -> Any:
    return locator.evaluate("el => el.style.transform")


def test_build_validate_and_test_run_a_workflow(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    shot = 0

    def snap(what: str) -> None:
        nonlocal shot
        shot += 1
        page.screenshot(path=str(artifacts / f"editor_{shot:02d}_{what}.png"))

    page.goto(f"{studio.url}/editor/greeting")
    canvas = page.locator(".react-flow__pane")
    expect(page.locator('[data-plait-kind="template"]')).to_be_visible(timeout=TIMEOUT)
    # the palette lists every kind, Python-only ones greyed; its search filters
    expect(page.locator('[data-plait-kind="function"].plait-python')).to_be_visible()
    page.locator("#palette-search").fill("jmespath")
    expect(page.locator("[data-plait-kind]")).to_have_count(1)
    expect(page.locator('[data-plait-kind="transform"]')).to_be_visible()
    page.locator("#palette-search").fill("")
    snap("empty")

    # two nodes dragged from the palette onto the canvas
    page.locator('[data-plait-kind="template"]').drag_to(
        canvas, target_position={"x": 160, "y": 200}
    )
    expect(node(page, "template")).to_be_visible(timeout=TIMEOUT)
    page.locator('[data-plait-kind="transform"]').drag_to(
        canvas, target_position={"x": 520, "y": 200}
    )
    expect(node(page, "transform")).to_be_visible(timeout=TIMEOUT)
    # each lacks its required option: shown on the node and in the problems badge
    expect(node(page, "template")).to_have_class(re.compile(r"\bplait-invalid\b"))
    expect(node(page, "template")).to_contain_text("options.template: is required")
    expect(page.locator("#problem-badge")).to_have_text("2 problems")
    snap("two_nodes")

    # connect template's output to transform's input
    drag_between(
        page,
        node(page, "template").locator(".react-flow__handle.source"),
        node(page, "transform").locator(".react-flow__handle.target"),
    )
    expect(page.locator('.react-flow__edge[data-id="template->transform"]')).to_have_count(
        1, timeout=TIMEOUT
    )
    snap("connected")

    # configure: the template reads a run input, the transform a mistyped upstream node
    node(page, "template").click()
    expect(page.locator("#node-name")).to_have_value("template", timeout=TIMEOUT)
    set_config(page, "template", "Hello {{ inputs.name }}")
    expect(node(page, "template")).not_to_have_class(
        re.compile(r"\bplait-invalid\b"), timeout=TIMEOUT
    )
    node(page, "transform").click()
    expect(page.locator("#node-name")).to_have_value("transform", timeout=TIMEOUT)
    # the expression field offers what it may name, upstream first
    expect(page.locator('[data-field="expression"] .plait-ref').first).to_have_text(
        "+ nodes.template.output"
    )
    set_config(page, "expression", "{upper: nodes.templat.output}")
    expect(node(page, "transform")).to_contain_text("names unknown node 'templat'", timeout=TIMEOUT)
    page.locator("#problems-tab").click()
    problem = page.locator('.plait-problem[data-node="transform"]')
    expect(problem).to_contain_text("unknown node 'templat'")
    snap("validation_error")
    # the problem list focuses its node; the fix clears it
    node(page, "template").click()
    problem.click()
    page.get_by_role("tab", name="Node").click()
    expect(page.locator("#node-name")).to_have_value("transform", timeout=TIMEOUT)
    set_config(page, "expression", "{greeting: nodes.template.output}")
    expect(page.locator("#problem-badge")).to_have_text("valid", timeout=TIMEOUT)
    snap("fixed")

    # moving a node is undone by Ctrl+Z (the canvas fitted first: a drag needs the node in view)
    page.get_by_role("button", name="Zoom to fit").click()
    transform = node(page, "transform")
    expect(transform).to_be_visible(timeout=TIMEOUT)
    before = position(transform)
    box = transform.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 40, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 180, steps=12)
    page.mouse.up()
    moved_to = "([el, t]) => el.style.transform !== t"
    page.wait_for_function(moved_to, arg=[transform.element_handle(), before], timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Undo")).to_be_enabled()
    snap("moved")
    canvas.click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+z")
    back = "([el, t]) => el.style.transform === t"
    page.wait_for_function(back, arg=[transform.element_handle(), before], timeout=TIMEOUT)

    # a third node, deleted with the Delete key
    page.locator('[data-plait-kind="sleep"]').click()
    expect(node(page, "sleep")).to_be_visible(timeout=TIMEOUT)
    node(page, "sleep").click()
    page.keyboard.press("Delete")
    expect(node(page, "sleep")).to_have_count(0, timeout=TIMEOUT)

    # copy and paste: the copy comes selected, so Delete takes it away again
    node(page, "template").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(node(page, "template_2")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#node-name")).to_have_value("template_2", timeout=TIMEOUT)
    page.keyboard.press("Delete")
    expect(node(page, "template_2")).to_have_count(0, timeout=TIMEOUT)
    expect(node(page, "template")).to_have_count(1)

    # a run input with a default, then a test run: the nodes turn succeeded
    add_run_input(page, "name", "Ada")
    page.locator("#run-tab").click()
    expect(page.locator('input[name="name"]')).to_have_value("Ada", timeout=TIMEOUT)
    snap("test_run_form")
    page.locator("#test-run").click()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
    for name in ("template", "transform"):
        expect(node(page, name)).to_have_class(re.compile(r"\bplait-succeeded\b"))
    # a node's output of the test run is shown beside its config
    node(page, "template").click()
    page.get_by_role("tab", name="Node").click()
    expect(page.locator("#node-run-output")).to_contain_text("Hello Ada", timeout=TIMEOUT)
    expect(page.locator("#node-run-output")).to_contain_text("output of the last test run")
    snap("test_run_succeeded")
    page.locator("#run-tab").click()

    # the shortcuts are listed in a popover; the document exports as JSON
    page.get_by_role("button", name="Shortcuts").click()
    expect(page.locator("#shortcuts")).to_contain_text("undo / redo")
    snap("shortcuts")
    page.keyboard.press("Escape")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert [n["name"] for n in exported["nodes"]] == ["template", "transform"]
    assert exported["edges"] == [["template", "transform"]]
    assert exported["inputs"][0]["default"] == "Ada"

    # the run is a real run of the workflow: its output is the transform's
    c = studio.connect()
    run_id = page.locator("#run-message").inner_text().split()[1]
    (run,) = [r for r in c.runs(workflow="greeting") if r.id.startswith(run_id)]
    assert run.status == "succeeded" and run.record.trigger == "draft"  # a draft run
    assert c.get_run(run.id).outputs["transform"] == {"greeting": "Hello Ada"}

    # every edit was saved to the server-side draft: a reload shows the same workflow
    page.reload()
    expect(node(page, "transform")).to_be_visible(timeout=TIMEOUT)
    expect(node(page, "template")).to_be_visible()
    expect(page.locator("#problem-badge")).to_have_text("valid", timeout=TIMEOUT)
    expect(page.locator("#editor-note")).to_contain_text("draft of greeting")
    page.get_by_role("tab", name="Inputs").click()
    expect(page.get_by_placeholder("default (empty: required)").first).to_have_value("Ada")
    snap("reloaded_draft")

    # a draft with a problem is refused, its problems listed; fixed, it publishes
    page.get_by_role("tab", name="Node").click()
    node(page, "transform").click()
    expect(page.locator("#node-name")).to_have_value("transform", timeout=TIMEOUT)
    set_config(page, "expression", "{greeting: nodes.nowhere.output}")
    expect(page.locator("#problem-badge")).to_have_text("1 problem", timeout=TIMEOUT)
    page.locator("#publish").click()
    page.locator("#publish-message").fill("first cut")
    page.locator("#publish-submit").click()
    expect(page.locator("#publish-note")).to_contain_text("not published", timeout=TIMEOUT)
    expect(page.locator("#publish-problems")).to_contain_text("unknown node 'nowhere'")
    snap("publish_refused")
    page.keyboard.press("Escape")
    # the closing dialog hands the focus back to its trigger: typing before would be lost
    expect(page.locator("#publish-message")).to_be_hidden()
    set_config(page, "expression", "{greeting: nodes.template.output}")
    expect(page.locator("#problem-badge")).to_have_text("valid", timeout=TIMEOUT)
    page.locator("#publish").click()
    expect(page.locator("#publish-problems")).to_have_count(0)
    page.locator("#publish-message").fill("greets by name")
    snap("publish_dialog")
    page.locator("#publish-submit").click()
    expect(page.locator("#editor-note")).to_contain_text("published version", timeout=TIMEOUT)
    status, versions = studio.api("GET", "/api/v1/workflows/greeting/versions")
    assert status == 200, versions
    (published,) = [v for v in versions if v["message"] == "greets by name"]
    assert published["current"] and published["created_by"]
    snap("published")

    # a second tab saves first: this tab's stale save is refused with a banner, not written
    other = page.context.new_page()
    other.goto(f"{studio.url}/editor/greeting")
    expect(node(other, "template")).to_be_visible(timeout=TIMEOUT)
    other.locator('[data-plait-kind="sleep"]').click()
    expect(other.locator("#draft-status")).to_contain_text("saved", timeout=TIMEOUT)
    expect(node(other, "sleep")).to_be_visible()
    node(page, "template").click()
    set_config(page, "template", "Bye {{ inputs.name }}")
    banner = page.locator("#draft-conflict")
    expect(banner).to_contain_text("someone else saved this draft", timeout=TIMEOUT)
    snap("conflict")
    draft = c.store.draft("greeting")
    assert draft is not None
    (kept,) = [n for n in draft.spec["nodes"] if n["name"] == "template"]
    assert kept["options"]["template"] == "Hello {{ inputs.name }}"  # never overwritten
    assert "sleep" in {n["name"] for n in draft.spec["nodes"]}
    banner.get_by_role("button", name="Reload").click()
    expect(node(page, "sleep")).to_be_visible(timeout=TIMEOUT)
    expect(banner).to_have_count(0)
    other.close()
