"""Schedules in the studio, in Chromium, embedded mode: ``plait studio`` alone fires a schedule
(no scheduler process), the schedules page and a workflow page show the next fire times in the
viewer's time zone (the browser's), pause and resume, a schedule added from the workflow page
(a bad cron named, nothing stored), the runs page filtered by trigger ``schedule``, and a
delayed run cancelled from its page before it starts."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from runtime import client as client_module
from runtime.cron import Cron
from tests.studio import flows
from tests.studio.conftest import Studio, start_studio, stop_studio

TIMEOUT = 30_000
VIEWER = "America/New_York"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    s = start_studio({}, home, "embedded")
    s.connect().publish(flows.approval)
    yield s
    stop_studio(s)
    client_module._default = None


@pytest.fixture
def viewer_page(browser: Browser) -> Iterator[Page]:
    """A browser in New York."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, timezone_id=VIEWER)
    yield context.new_page()
    context.close()


def schedule(studio: Studio, cron: str, **fields: object) -> int:
    status, body = studio.api(
        "POST", "/api/v1/workflows/studio_approval/schedules", {"cron": cron, **fields}
    )
    assert status == 201, body
    return body["id"]


def test_the_studio_alone_fires_a_schedule_and_the_runs_page_filters_it(
    studio: Studio, page: Page
) -> None:
    sid = schedule(studio, "* * * * * *", inputs={"topic": "every second"}, overlap="allow")
    deadline = time.monotonic() + 30
    while True:  # the studio's own scheduler fires it: no other process runs
        _, found = studio.api("GET", "/api/v1/runs?trigger=schedule")
        if found["runs"]:
            break
        assert time.monotonic() < deadline, "no run of the schedule"
        time.sleep(0.1)
    assert studio.api("POST", f"/api/v1/schedules/{sid}/pause")[0] == 200
    run_id = found["runs"][0]["id"]
    _, detail = studio.api("GET", f"/api/v1/runs/{run_id}")
    assert detail["trigger_ref"] == f"schedule:{sid}"

    page.goto(studio.url + "/runs")
    page.locator("#filter-trigger").click()
    page.get_by_role("option", name="schedule", exact=True).click()
    row = page.locator(f'.plait-run-row[data-run="{run_id}"]')
    expect(row).to_be_visible(timeout=TIMEOUT)
    triggers = page.locator(".plait-run-row td:nth-child(4)").all_inner_texts()
    assert set(triggers) == {"schedule"}
    row.locator("a").first.click()
    expect(page.locator("#run-started-by")).to_have_text(f"· schedule {sid}", timeout=TIMEOUT)
    studio.api("DELETE", f"/api/v1/schedules/{sid}")


def test_next_fire_times_in_the_viewers_zone_and_pause_resume(
    studio: Studio, viewer_page: Page
) -> None:
    sid = schedule(studio, "0 9 * * MON-FRI", tz="Europe/Berlin")
    first = Cron("0 9 * * MON-FRI", "Europe/Berlin").next(dt.datetime.now(dt.UTC), 1)[0]
    in_new_york = first.astimezone(ZoneInfo(VIEWER)).strftime("%a %Y-%m-%d %H:%M:%S %Z")
    page = viewer_page
    page.goto(studio.url + "/schedules")
    expect(page.locator(".plait-viewer-tz").first).to_have_text(VIEWER, timeout=TIMEOUT)
    row = page.locator(f'.plait-schedule-row[data-schedule="{sid}"]')
    expect(row.locator(".plait-next-fire").first).to_have_text(in_new_york, timeout=TIMEOUT)
    expect(row.locator(".plait-next-fire")).to_have_count(5)

    row.locator(".plait-schedule-pause").click()
    expect(row).to_have_attribute("data-paused", "true", timeout=TIMEOUT)
    assert studio.api("GET", f"/api/v1/schedules/{sid}")[1]["paused"] is True
    expect(row.locator(".plait-next-fire")).to_have_count(0)
    row.locator(".plait-schedule-resume").click()
    expect(row).to_have_attribute("data-paused", "false", timeout=TIMEOUT)
    assert studio.api("GET", f"/api/v1/schedules/{sid}")[1]["paused"] is False
    studio.api("DELETE", f"/api/v1/schedules/{sid}")


def test_add_a_schedule_on_the_workflow_page(studio: Studio, viewer_page: Page) -> None:
    page = viewer_page
    page.goto(studio.url + "/workflows/studio_approval")
    section = page.locator("#workflow-schedules")
    expect(section.locator(".plait-viewer-tz")).to_have_text(VIEWER, timeout=TIMEOUT)
    expect(section.locator("#schedule-tz")).to_have_value(VIEWER)
    section.locator("#schedule-cron").fill("0 25 * * *")
    section.get_by_role("button", name="Add schedule").click()
    expect(section.locator(".plait-schedule-form-message")).to_contain_text(
        "'0 25 * * *' is not valid", timeout=TIMEOUT
    )
    assert studio.api("GET", "/api/v1/schedules")[1] == []

    section.locator("#schedule-cron").fill("30 7 * * *")
    section.locator("#schedule-inputs").fill('{"topic": "morning"}')
    section.get_by_role("button", name="Add schedule").click()
    row = section.locator(".plait-schedule-row")
    expect(row).to_have_count(1, timeout=TIMEOUT)
    expect(row.locator(".plait-next-fire").first).to_contain_text("07:30:00 E")
    (made,) = studio.api("GET", "/api/v1/schedules")[1]
    assert (made["cron"], made["tz"], made["inputs"]) == (
        "30 7 * * *",
        VIEWER,
        {"topic": "morning"},
    )
    studio.api("DELETE", f"/api/v1/schedules/{made['id']}")


def test_a_delayed_run_is_cancelled_from_its_page(studio: Studio, page: Page) -> None:
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).isoformat()
    status, body = studio.api(
        "POST", "/api/v1/workflows/studio_approval/runs", {"inputs": {}, "start_at": at}
    )
    assert status == 201 and body["status"] == "scheduled", body
    page.goto(studio.url + f"/runs/{body['id']}")
    expect(page.locator("#run-status")).to_have_text("scheduled", timeout=TIMEOUT)
    expect(page.locator("#run-started-by")).to_contain_text("starts ")
    page.locator("#cancel-run").click()
    page.locator("#cancel-confirm").click()  # "Cancel this run?"
    expect(page.locator("#run-status")).to_have_text("cancelled", timeout=TIMEOUT)
    assert studio.api("GET", f"/api/v1/runs/{body['id']}")[1]["started_at"] is None
