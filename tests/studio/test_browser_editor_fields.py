"""The editor's config fields in Chromium: a stored secret picked by name for an ``llm``
node and a name not stored yet typed for an ``http`` node's ``auth`` (edited field by
field, not as JSON), upstream references put into expression fields by completion (typed
``{{ in`` then Enter) and by a chip, and Python written in the code editor with Tab
indenting. The saved draft holds all of it, the secrets named in their nodes' options. Each step
is screenshotted into ``test-artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from runtime import client as client_module
from runtime.nodes.kind import options_schema
from runtime.nodes.registry import kind_of
from runtime.nodes.secret_options import named_secrets
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


def field(page: Page, name: str) -> Locator:
    return page.locator(f'#node-config [data-field="{name}"]')


def select_node(page: Page, name: str) -> None:
    node(page, name).click()
    expect(page.locator("#node-name")).to_have_value(name, timeout=TIMEOUT)


def saved_draft(studio: Studio, holds: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The draft's nodes by name once ``holds`` is true of them (each edit is saved just
    after the browser is answered)."""
    store = studio.connect().store
    deadline = time.monotonic() + TIMEOUT / 1000
    while True:
        draft = store.draft("fields")
        nodes = {n["name"]: n for n in draft.spec["nodes"]} if draft is not None else {}
        if nodes and holds(nodes):
            return nodes
        assert time.monotonic() < deadline, f"the draft never held it: {nodes}"
        time.sleep(0.1)


def test_secrets_completion_and_the_code_editor(
    studio: Studio, page: Page, artifacts: Path
) -> None:
    shot = 0

    def snap(what: str) -> None:
        nonlocal shot
        shot += 1
        page.screenshot(path=str(artifacts / f"editor_fields_{shot:02d}_{what}.png"))

    status, _ = studio.api("PUT", "/api/v1/secrets/OPENAI_KEY", {"value": "sk-test-123456"})
    assert status in (200, 201)
    page.goto(f"{studio.url}/editor/fields")
    for kind in ("template", "llm", "http", "code"):
        page.locator(f'[data-plait-kind="{kind}"]').click()
        expect(node(page, kind)).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("tab", name="Inputs").click()
    page.get_by_role("button", name="Add input").click()
    name_box = page.locator(".plait-run-input").get_by_placeholder("name", exact=True)
    name_box.fill("topic")
    name_box.blur()
    page.get_by_role("tab", name="Node").click()

    # a template: "{{ in" offers the run input, Enter takes it, closing the braces
    select_node(page, "template")
    code = field(page, "template").locator("textarea")
    code.click()
    page.keyboard.type("Tell me about {{ in")
    menu = field(page, "template").locator(".plait-completion")
    expect(menu.locator(".plait-completion-item")).to_have_text(["inputs.topic"])
    snap("completion")
    page.keyboard.press("Enter")
    expect(menu).to_have_count(0)
    expect(code).to_have_value("Tell me about {{ inputs.topic }}")
    # the code editor highlights the template's expression
    expect(field(page, "template").locator(".plait-tok-expr")).to_have_text("{{ inputs.topic }}")
    page.keyboard.type(".")
    code.blur()

    # the llm node: its key picked by name among the stored secrets, its prompt given the
    # template's output by a chip
    select_node(page, "llm")
    secret = field(page, "api_key_secret")
    expect(secret.locator("select option")).to_have_text(["(none)", "OPENAI_KEY"])
    secret.locator("select").select_option("OPENAI_KEY")
    expect(secret.locator(".plait-secret-missing")).to_have_count(0)
    model = field(page, "model").locator("input")
    model.fill("openai:gpt-4o-mini")
    model.blur()
    prompt = field(page, "prompt")
    expect(prompt.locator(".plait-ref")).to_have_text(
        ["+ nodes.template.output", "+ nodes.http.output", "+ nodes.code.output", "+ inputs.topic"]
    )
    prompt.locator("textarea").click()
    page.keyboard.type("Summarise: ")
    prompt.locator('.plait-ref[data-ref="nodes.template.output"]').click()
    expect(prompt.locator("textarea")).to_have_value("Summarise: {{ nodes.template.output }}")
    snap("llm_secret_and_chip")

    # the http node: auth field by field; a name not stored yet is taken, with a warning
    select_node(page, "http")
    url = field(page, "url").locator("input")
    url.fill("https://api.example.test/")
    url.blur()
    field(page, "auth.type").locator("select").select_option("header")
    typed = field(page, "auth.secret").locator(".plait-secret-name input")
    typed.fill("NEW_TOKEN")
    typed.blur()
    expect(field(page, "auth.secret").locator(".plait-secret-missing")).to_contain_text(
        "not stored yet", timeout=TIMEOUT
    )
    snap("http_auth_not_stored")

    # the code node's Python: Tab indents in the code editor, keywords are highlighted
    select_node(page, "code")
    source = field(page, "source").locator("textarea")
    source.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type("def main():\n")
    page.keyboard.press("Tab")
    page.keyboard.type("return 41 + 1  # the answer")
    expect(source).to_have_value("def main():\n    return 41 + 1  # the answer")
    expect(field(page, "source").locator(".plait-tok-kw").first).to_have_text("def")
    expect(field(page, "source").locator(".plait-tok-com")).to_have_text("# the answer")
    source.blur()
    snap("code_editor")

    nodes = saved_draft(
        studio,
        lambda n: "source" in n["code"]["options"] and "auth" in n["http"]["options"],
    )
    assert nodes["template"]["options"]["template"] == "Tell me about {{ inputs.topic }}."
    llm = nodes["llm"]
    assert llm["options"] == {
        "model": "openai:gpt-4o-mini",
        "prompt": "Summarise: {{ nodes.template.output }}",
        "api_key_secret": "OPENAI_KEY",
    }
    assert nodes["http"]["options"]["auth"] == {"type": "header", "secret": "NEW_TOKEN"}
    # the secrets the options name are what the built nodes declare (LibraryKind.prepare)
    for name, wanted in (("llm", ["OPENAI_KEY"]), ("http", ["NEW_TOKEN"])):
        kind = kind_of(nodes[name]["kind"])
        assert named_secrets(options_schema(kind), nodes[name]["options"]) == wanted
    assert nodes["code"]["options"]["source"] == "def main():\n    return 41 + 1  # the answer"

    # a reload shows them again: the picked secret, the typed one still flagged
    page.reload()
    expect(node(page, "llm")).to_be_visible(timeout=TIMEOUT)
    select_node(page, "llm")
    expect(field(page, "api_key_secret").locator("select")).to_have_value("OPENAI_KEY")
    select_node(page, "http")
    expect(field(page, "auth.secret").locator(".plait-secret-missing")).to_be_visible()
    expect(field(page, "auth.type").locator("select")).to_have_value("header")
    snap("reloaded")
