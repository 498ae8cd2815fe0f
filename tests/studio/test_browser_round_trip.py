"""The whole round trip of a workflow built in the studio, in Chromium: built from the
palette by drag and drop, configured with an expression, a validation error seen and
fixed, test-run, published, edited and published again, the two versions diffed (on the
graph too), rolled back, exported; the file imported into a fresh store through the second
studio's Import; then run and extended from a notebook kernel with ``rt.workflow``. Each
step is screenshotted into ``test-artifacts/roundtrip_*.png``."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from playwright.sync_api import Page, expect

from runtime import client as client_module
from tests.faults.servers import free_port
from tests.studio.conftest import start_studio, stop_studio
from tests.studio.test_browser_editor import add_run_input, drag_between, node, set_config

TIMEOUT = 30_000


def test_build_publish_diff_roll_back_export_import_and_run_in_a_notebook(
    tmp_path: Path, page: Page, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shot = 0

    def snap(what: str) -> None:
        nonlocal shot
        shot += 1
        page.screenshot(path=str(artifacts / f"roundtrip_{shot:02d}_{what}.png"), full_page=True)

    port = free_port()
    for home in ("a", "b"):
        (tmp_path / home).mkdir()
    first = start_studio({}, tmp_path / "a", "embedded", port=port)
    try:
        # -- built from the palette ----------------------------------------------------------
        page.goto(f"{first.url}/editor/greeting")
        canvas = page.locator(".react-flow__pane")
        expect(page.locator('[data-plait-kind="template"]')).to_be_visible(timeout=TIMEOUT)
        page.locator('[data-plait-kind="template"]').drag_to(
            canvas, target_position={"x": 160, "y": 200}
        )
        page.locator('[data-plait-kind="transform"]').drag_to(
            canvas, target_position={"x": 520, "y": 200}
        )
        expect(node(page, "transform")).to_be_visible(timeout=TIMEOUT)
        drag_between(
            page,
            node(page, "template").locator(".react-flow__handle.source"),
            node(page, "transform").locator(".react-flow__handle.target"),
        )
        expect(page.locator('.react-flow__edge[data-id="template->transform"]')).to_have_count(
            1, timeout=TIMEOUT
        )
        node(page, "template").click()
        expect(page.locator("#node-name")).to_have_value("template", timeout=TIMEOUT)
        set_config(page, "template", "Hello {{ inputs.name }}")
        node(page, "transform").click()
        expect(page.locator("#node-name")).to_have_value("transform", timeout=TIMEOUT)
        set_config(page, "expression", "{greeting: nodes.templat.output}")
        expect(node(page, "transform")).to_contain_text("unknown node 'templat'", timeout=TIMEOUT)
        snap("validation_error")
        set_config(page, "expression", "{greeting: nodes.template.output}")
        expect(page.locator("#problem-badge")).to_have_text("valid", timeout=TIMEOUT)
        add_run_input(page, "name", "Ada")
        snap("built")

        # -- test-run, published, edited, published again ------------------------------------
        page.locator("#run-tab").click()
        expect(page.locator('input[name="name"]')).to_have_value("Ada", timeout=TIMEOUT)
        page.locator("#test-run").click()
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT)
        snap("test_run")
        publish(page, "first greeting")
        snap("published")
        # a closing dialog may leave the canvas panned off its nodes: fit them in view
        page.get_by_role("button", name="Zoom to fit").click()
        expect(node(page, "template")).to_be_visible(timeout=TIMEOUT)
        node(page, "template").click()
        page.get_by_role("tab", name="Node").click()
        expect(page.locator("#node-name")).to_have_value("template", timeout=TIMEOUT)
        set_config(page, "template", "Hi {{ inputs.name }}")
        publish(page, "shorter hello")
        c = first.connect()
        versions = c.store.version_infos("greeting")
        assert [v.message for v in versions] == ["shorter hello", "first greeting"]
        newer, older = versions[0].version, versions[1].version

        # -- the two versions diffed, on the graph too; the older made current ---------------
        page.goto(f"{first.url}/workflows/greeting")
        expect(page.locator(".plait-version-row")).to_have_count(2, timeout=TIMEOUT)
        expect(page.locator(".plait-version-message")).to_have_text(
            ["shorter hello", "first greeting"]
        )
        expect(page.locator(".plait-diff-summary")).to_have_text("1 changed")
        changed = page.locator('.plait-diff-row[data-change="changed"]')
        expect(changed).to_contain_text("options.template")
        expect(changed).to_contain_text('"Hello {{ inputs.name }}" → "Hi {{ inputs.name }}"')
        page.locator("#diff-on-graph").click()
        expect(node(page, "template")).to_have_class(
            re.compile(r"\bplait-diff-changed\b"), timeout=TIMEOUT
        )
        expect(node(page, "transform")).to_have_class(re.compile(r"\bplait-diff-same\b"))
        node(page, "template").click()
        expect(page.locator("#workflow-node")).to_contain_text("Hi {{ inputs.name }}")
        snap("diff_on_graph")
        current = page.locator('.plait-version-row[data-current="true"]')
        expect(current.locator(".plait-version-pick")).to_have_text(newer[:8])
        page.locator(".plait-version-row").nth(1).locator(".plait-make-current").click()
        expect(current.locator(".plait-version-pick")).to_have_text(older[:8], timeout=TIMEOUT)
        expect(page.locator("#workflow-message")).to_contain_text("is current")
        assert c.store.find_version("greeting").version == older  # runs by name start it
        snap("rolled_back")

        # -- exported (the version shown: the latest) ----------------------------------------
        with page.expect_download() as download:
            page.locator("#export-version").click()
        exported = Path(download.value.path())
        doc = json.loads(exported.read_text())
        assert (doc["name"], doc["version"], doc["message"]) == (
            "greeting",
            newer,
            "shorter hello",
        )
        export_file = tmp_path / download.value.suggested_filename
        exported.replace(export_file)
        assert export_file.name == f"greeting.{newer[:8]}.workflow.json"

        # -- archived (hidden from the list, nothing lost), restored; refused a delete -------
        page.locator("#archive-workflow").click()
        expect(page.locator("#workflow-message")).to_contain_text("archived", timeout=TIMEOUT)
        page.goto(first.url + "/")
        expect(page.locator(".plait-workflow-row")).to_have_count(0, timeout=TIMEOUT)
        page.locator("#show-archived").click()
        expect(page.locator('.plait-workflow-row[data-workflow="greeting"]')).to_contain_text(
            "archived", timeout=TIMEOUT
        )
        snap("archived")
        page.get_by_role("link", name="greeting").click()
        page.locator("#restore-workflow").click()
        expect(page.locator("#workflow-message")).to_have_text("restored", timeout=TIMEOUT)
        assert c.store.workflow("greeting").archived_at is None
        page.locator("#delete-workflow").click()
        page.locator("#delete-confirm").click()
        expect(page.locator("#workflow-message")).to_contain_text("run", timeout=TIMEOUT)
        assert c.store.version_infos("greeting")  # still there: its runs reference it

        # -- duplicated: a new workflow's draft, opened in the editor -------------------------
        page.locator("#duplicate-workflow").click()
        page.locator("#duplicate-name").fill("greeting 2")
        page.locator("#duplicate-confirm").click()
        page.wait_for_url(re.compile(r"/editor/greeting%202$"), timeout=TIMEOUT)
        expect(node(page, "template")).to_be_visible(timeout=TIMEOUT)
        copy = c.store.draft("greeting 2")
        assert copy is not None and {n["name"] for n in copy.spec["nodes"]} == {
            "template",
            "transform",
        }
        snap("duplicated")
    finally:
        stop_studio(first)
        client_module._default = None

    # -- imported into a fresh store through the second studio's Import ----------------------
    second = start_studio({}, tmp_path / "b", "embedded", port=port)
    try:
        page.goto(second.url + "/")
        page.locator("#import-workflow").click()
        page.locator("input[type=file]").set_input_files(str(export_file))
        page.wait_for_url(re.compile(r"/workflows/greeting$"), timeout=TIMEOUT)
        expect(page.locator(".plait-version-row")).to_have_count(1, timeout=TIMEOUT)
        expect(page.locator(".plait-version-pick")).to_have_text(newer[:8])
        snap("imported")
        fresh = second.connect()
        assert fresh.store.find_version("greeting").version == newer  # the hash kept

        # -- run and extended in a notebook kernel -------------------------------------------
        monkeypatch.setenv("PLAIT_HOME", second.env["PLAIT_HOME"])
        monkeypatch.setenv("PLAIT_DATABASE_URL", second.env["PLAIT_DATABASE_URL"])
        monkeypatch.delenv("PLAIT_REDIS_URL", raising=False)
        book = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_code_cell(
                    textwrap.dedent(
                        """
                        import runtime as rt
                        g = rt.workflow("greeting")
                        run = g.run(name="Grace").wait()
                        print(run.status, run.output("transform"))
                        """
                    )
                ),
                nbformat.v4.new_code_cell(
                    textwrap.dedent(
                        """
                        def shout(transform: dict) -> str:
                            return transform["greeting"].upper()

                        g.add("shout", shout)
                        print(g.run(name="Grace").wait().output("shout"))
                        """
                    )
                ),
            ]
        )
        NotebookClient(book, timeout=120, kernel_name="python3").execute()
        outputs = ["".join(o.get("text", "") for o in cell.outputs) for cell in book.cells]
        assert outputs[0].strip() == "succeeded {'greeting': 'Hi Grace'}"
        assert outputs[1].strip() == "HI GRACE"
        # the extended graph is a new version of the same workflow; the imported one stays
        found = [v.version for v in fresh.store.version_infos("greeting")]
        assert len(found) == 2 and found[1] == newer
        page.reload()
        expect(page.locator(".plait-version-row")).to_have_count(2, timeout=TIMEOUT)
        expect(page.locator('.plait-diff-row[data-change="added"]')).to_contain_text("shout")
        # the notebook's Python node shows its source, kept with the version
        node(page, "shout").click()
        expect(page.locator("#workflow-node .plait-node-source")).to_contain_text(
            'return transform["greeting"].upper()', timeout=TIMEOUT
        )
        snap("extended_in_a_notebook")
    finally:
        stop_studio(second)
        client_module._default = None


def publish(page: Page, message: str) -> None:
    page.locator("#publish").click()
    page.locator("#publish-message").fill(message)
    page.locator("#publish-submit").click()
    expect(page.locator("#editor-note")).to_contain_text(
        re.compile(f"published version .* of greeting: {message}"), timeout=TIMEOUT
    )
