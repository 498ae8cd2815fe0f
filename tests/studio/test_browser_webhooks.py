"""The workflow page's webhooks section in Chromium: a new endpoint shows its URL and its
secret once, "send test event" and real signed and unsigned requests to the studio's
``/hooks/<id>`` appear as deliveries with status, signature verdict and run link."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from runtime import client as client_module
from runtime.triggers import signatures
from tests import hook_flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = start_studio({}, tmp_path_factory.mktemp("studio"), "webhooks")
    s.connect().publish(hook_flows.echo)
    yield s
    stop_studio(s)
    client_module._default = None


def test_webhooks_section(studio: Studio, page: Page, artifacts: Path) -> None:
    page.goto(studio.url + "/workflows/hook_echo")
    expect(page.get_by_text("No webhooks")).to_be_visible(timeout=TIMEOUT)
    page.locator("#new-webhook").click()
    secret_box = page.locator("#webhook-secret")
    expect(secret_box).to_have_text(re.compile(r"^whsec_"), timeout=TIMEOUT)
    secret = secret_box.inner_text()
    url = page.locator(".plait-hook-url").inner_text()
    assert url.startswith(studio.url + "/hooks/wh_"), url

    page.locator(".plait-hook-test").click()
    expect(page.locator(".plait-hook-message")).to_contain_text("test event: 202")
    rows = page.locator(".plait-delivery-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("valid")

    body = b'{"from": "partner"}'
    ts = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": "partner-1",
        "webhook-timestamp": str(ts),
        "webhook-signature": signatures.sign(secret, "partner-1", ts, body),
    }
    accepted = httpx.post(url, content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    refused = httpx.post(url, content=body, headers={"content-type": "application/json"})
    assert refused.status_code == 401
    page.get_by_role("button", name="Refresh").click()
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("401")
    expect(rows.nth(0)).to_contain_text("missing")
    expect(rows.nth(1)).to_contain_text("202")
    page.screenshot(path=str(artifacts / "workflow-webhooks.png"), full_page=True)
    run_id = accepted.json()["run_id"]
    rows.nth(1).get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}$"), timeout=TIMEOUT)
    expect(page.get_by_text("webhook").first).to_be_visible(timeout=TIMEOUT)
