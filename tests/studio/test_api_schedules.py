"""Schedules and delayed runs through the REST API: create (bad input refused, nothing
stored), show with the next fire times, pause, resume, delete; role rules and a key's
workflows; ``start_at`` on a run and its cancellation; the runs list filtered by trigger
``schedule``. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import runtime as rt
from runtime.api import create_api
from runtime.auth.apikeys import ApiKeys
from runtime.auth.users import Users
from runtime.scheduler import Scheduler
from tests.studio import flows

BERLIN = {"cron": "0 9 * * MON-FRI", "tz": "Europe/Berlin", "inputs": {"topic": "daily"}}


@pytest.fixture
def keys(client: rt.Client) -> dict[str, str]:
    Users(client.store).add("alice", "admin", "correct horse battery")
    made = {}
    for role in ("viewer", "editor"):
        made[role], _ = ApiKeys(client.store).create(role, role, by="alice")
    made["other"], _ = ApiKeys(client.store).create(
        "other", "editor", by="alice", workflows=["studio_gated"]
    )
    return made


@pytest.fixture
def api(client: rt.Client, keys: dict[str, str]) -> Iterator[TestClient]:
    client.publish(flows.approval)
    with TestClient(create_api(lambda: client)) as http:
        yield http


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_show_pause_resume_delete(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    editor, viewer = as_(keys["editor"]), as_(keys["viewer"])
    made = api.post("/api/v1/workflows/studio_approval/schedules", json=BERLIN, headers=editor)
    assert made.status_code == 201, made.text
    body = made.json()
    sid = body["id"]
    assert made.headers["Location"] == f"/api/v1/schedules/{sid}"
    assert body["workflow"] == "studio_approval" and body["overlap"] == "skip"
    assert body["created_by"] == f"editor (key {keys['editor'].split('_')[1]})"
    fires = [dt.datetime.fromisoformat(t) for t in body["next_fires"]]
    assert len(fires) == 10 and all(f.astimezone(rt_zone()).hour == 9 for f in fires)
    assert body["recent_fires"] == []

    listed = api.get("/api/v1/schedules", headers=viewer).json()
    assert [s["id"] for s in listed] == [sid]
    assert api.get(f"/api/v1/schedules/{sid}", headers=viewer).json()["cron"] == BERLIN["cron"]

    assert api.post(f"/api/v1/schedules/{sid}/pause", headers=viewer).status_code == 403
    paused = api.post(f"/api/v1/schedules/{sid}/pause", headers=editor).json()
    assert paused["paused"] is True and paused["next_fires"] == []
    assert client.store.get_schedule(sid)[0].paused
    resumed = api.post(f"/api/v1/schedules/{sid}/resume", headers=editor).json()
    assert resumed["paused"] is False and len(resumed["next_fires"]) == 10

    assert api.delete(f"/api/v1/schedules/{sid}", headers=viewer).status_code == 403
    assert api.delete(f"/api/v1/schedules/{sid}", headers=editor).status_code == 204
    gone = api.get(f"/api/v1/schedules/{sid}", headers=viewer)
    assert gone.status_code == 404 and f"no schedule with id {sid}" in gone.json()["detail"]


def rt_zone():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"cron": "0 9 * *"}, 422, "has 4 fields"),
        ({"tz": "Europe/Atlantis"}, 422, "unknown time zone 'Europe/Atlantis'"),
        ({"inputs": {"colour": "red"}}, 422, "colour"),
        ({"overlap": "twice"}, 422, "overlap"),
        ({"catchup": -1}, 422, "catchup"),
        ({"version": "ffffffff"}, 404, "ffffffff"),
    ],
)
def test_bad_schedule_is_refused_and_nothing_stored(
    api: TestClient,
    client: rt.Client,
    keys: dict[str, str],
    change: dict,
    status: int,
    message: str,
) -> None:
    answer = api.post(
        "/api/v1/workflows/studio_approval/schedules",
        json={**BERLIN, **change},
        headers=as_(keys["editor"]),
    )
    assert answer.status_code == status, answer.text
    assert message in answer.text
    assert client.store.schedules() == []


def test_unknown_workflow_and_a_viewer_store_nothing(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    unknown = api.post("/api/v1/workflows/nope/schedules", json=BERLIN, headers=as_(keys["editor"]))
    assert unknown.status_code == 404 and "no workflow named 'nope'" in unknown.json()["detail"]
    viewer = api.post(
        "/api/v1/workflows/studio_approval/schedules", json=BERLIN, headers=as_(keys["viewer"])
    )
    assert viewer.status_code == 403 and "takes the editor role" in viewer.json()["detail"]
    assert client.store.schedules() == []


def test_a_key_reaches_only_its_workflows_schedules(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    editor, other = as_(keys["editor"]), as_(keys["other"])
    sid = api.post(
        "/api/v1/workflows/studio_approval/schedules", json=BERLIN, headers=editor
    ).json()["id"]
    assert api.get("/api/v1/schedules", headers=other).json() == []
    assert api.get(f"/api/v1/schedules/{sid}", headers=other).status_code == 403
    assert api.post(f"/api/v1/schedules/{sid}/pause", headers=other).status_code == 403
    made = api.post("/api/v1/workflows/studio_approval/schedules", json=BERLIN, headers=other)
    assert made.status_code == 403
    assert len(client.store.schedules()) == 1


def test_runs_started_by_a_schedule_are_listed_by_trigger(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    every_minute = {"cron": "* * * * *", "inputs": {"topic": "cron"}}
    sid = api.post(
        "/api/v1/workflows/studio_approval/schedules",
        json=every_minute,
        headers=as_(keys["editor"]),
    ).json()["id"]
    flows.approval.run(topic="by hand").wait(30)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1, seconds=1)
    (fired,) = Scheduler(client, clock=lambda: later).tick()
    rt.get_run(fired.run_id).wait(30)  # type: ignore[arg-type]
    page = api.get("/api/v1/runs?trigger=schedule", headers=as_(keys["viewer"])).json()
    assert [r["id"] for r in page["runs"]] == [fired.run_id] and page["total"] == 1
    detail = api.get(f"/api/v1/schedules/{sid}", headers=as_(keys["viewer"])).json()
    assert detail["recent_fires"][0]["run_id"] == fired.run_id
    assert detail["recent_fires"][0]["outcome"] == "started"


def test_a_delayed_run_through_the_api_waits_and_can_be_cancelled(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    started = api.post(
        "/api/v1/workflows/studio_approval/runs",
        json={"inputs": {"topic": "later"}, "start_at": at},
        headers=as_(keys["editor"]),
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    assert started.json()["status"] == "scheduled"
    assert client.store.get_run(run_id).start_at == dt.datetime.fromisoformat(at)
    page = api.get("/api/v1/runs?status=scheduled", headers=as_(keys["viewer"])).json()
    assert [r["id"] for r in page["runs"]] == [run_id]
    cancelled = api.post(f"/api/v1/runs/{run_id}/cancel", headers=as_(keys["editor"]))
    assert cancelled.json()["status"] == "cancelled"
    naive = api.post(
        "/api/v1/workflows/studio_approval/runs",
        json={"inputs": {}, "start_at": "2030-01-01T09:00:00"},
        headers=as_(keys["editor"]),
    )
    assert naive.status_code == 422 and "start_at must carry a time zone" in naive.text
    assert len(client.store.list_runs()) == 1
