"""The REST API (``/api/v1``), in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import runtime as rt
from runtime.api import create_api
from tests.studio import flows


@pytest.fixture
def api(client: rt.Client) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: client)) as http:
        yield http


def test_workflows_and_versions(api: TestClient, client: rt.Client) -> None:
    client.publish(flows.approval)
    flows.failing.run().wait(30)
    listed = api.get("/api/v1/workflows").json()
    assert [w["name"] for w in listed] == ["studio_approval", "studio_failing"]
    assert listed[1]["last_run_status"] == "failed" and listed[1]["runs_last_day"] == 1
    assert [w["name"] for w in api.get("/api/v1/workflows?search=human").json()] == [
        "studio_approval"
    ]
    latest = api.get("/api/v1/workflows/studio_approval").json()
    assert latest["version"] == flows.approval.version
    assert [n["name"] for n in latest["spec"]["nodes"]] == ["draft", "review", "result"]
    versions = api.get("/api/v1/workflows/studio_approval/versions").json()
    assert [v["version"] for v in versions] == [flows.approval.version]
    short = flows.approval.version[:6]
    assert api.get(f"/api/v1/workflows/studio_approval/versions/{short}").status_code == 200
    missing = api.get("/api/v1/workflows/nope")
    assert missing.status_code == 404
    assert "workflows: studio_approval, studio_failing" in missing.json()["detail"]


def test_start_a_run_and_read_it(api: TestClient, client: rt.Client, tmp_path: Path) -> None:
    client.publish(flows.gated)
    gate = tmp_path / "open"
    gate.touch()
    started = api.post(
        "/api/v1/workflows/studio_gated/runs", json={"inputs": {"gate_file": str(gate)}}
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    assert started.json()["trigger"] == "api"
    client.get_run(run_id).wait(30)
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    assert detail["status"] == "succeeded"
    assert [(n["name"], n["status"]) for n in detail["nodes"]] == [
        ("prepare", "succeeded"),
        ("gate", "succeeded"),
        ("summary", "succeeded"),
    ]
    assert detail["inputs"] == {"gate_file": str(gate)}
    assert detail["outputs"]["summary"].startswith("# Summary")
    events = api.get(f"/api/v1/runs/{run_id}/events?after=1").json()
    assert events[0]["seq"] == 2 and events[-1]["type"] == "run.succeeded"
    page = api.get("/api/v1/runs?workflow=studio_gated&status=succeeded").json()
    assert page["total"] == 1 and page["runs"][0]["id"] == run_id
    report = api.get(f"/api/v1/runs/{run_id}/report")
    assert report.status_code == 200 and "studio_gated" in report.text


def test_bad_requests_are_named(api: TestClient, client: rt.Client) -> None:
    client.publish(flows.typed)
    missing = api.post("/api/v1/workflows/studio typed inputs/runs", json={"inputs": {}})
    assert missing.status_code == 422
    assert "missing required input(s): count" in missing.json()["detail"]
    assert api.get("/api/v1/runs/nope").status_code == 404
    assert api.get("/api/v1/runs?limit=0").status_code == 422


def test_resume_validates_then_continues(api: TestClient, client: rt.Client) -> None:
    run = flows.approval.run(topic="api").wait(30)
    detail = api.get(f"/api/v1/runs/{run.id}").json()
    assert detail["waiting"]["review"]["properties"]["amount"]["minimum"] == 1
    bad = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "review", "payload": {"amount": 0}}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["amount"]
    assert run.status == "waiting"
    wrong = api.post(f"/api/v1/runs/{run.id}/resume", json={"node": "draft", "payload": {}})
    assert wrong.status_code == 404 and "not a wait node" in wrong.json()["detail"]
    ok = api.post(
        f"/api/v1/runs/{run.id}/resume",
        json={"node": "review", "payload": {"amount": 3}, "answered_by": "ann"},
    )
    assert ok.status_code == 200, ok.text
    assert run.wait(30).status == "succeeded"
    again = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "review", "payload": {"amount": 3}}
    )
    assert again.status_code == 409


def test_cancel_and_retry(api: TestClient, client: rt.Client) -> None:
    run = flows.approval.run().wait(30)
    cancelled = api.post(f"/api/v1/runs/{run.id}/cancel").json()
    assert cancelled == {"id": run.id, "status": "cancelled"}
    retried = api.post(f"/api/v1/runs/{run.id}/retry")
    assert retried.status_code == 201
    again = client.get_run(retried.json()["id"]).wait(30)
    assert again.id != run.id and again.inputs == run.inputs and again.status == "waiting"


def test_openapi_schema_and_offline_docs(api: TestClient) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    assert {
        "/api/v1/workflows",
        "/api/v1/workflows/{name}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}/resume",
        "/api/v1/runs/{run_id}/cancel",
    } <= set(schema["paths"])
    docs = api.get("/api/v1/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert sources and all(s.startswith("/api/v1/") for s in sources), sources
    assert "cdn" not in docs.lower()
    assert api.get("/api/v1/docs-assets/swagger-ui-bundle.js").status_code == 200
