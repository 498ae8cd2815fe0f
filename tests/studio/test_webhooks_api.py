"""Webhooks through the REST API: who may manage them (viewers read, editors change), the
secret shown once, the audit entries, limits and priorities, and an API key past its rate
limit getting 429 with ``Retry-After``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import runtime as rt
from runtime import audit, config
from runtime.api import create_api
from runtime.triggers import signatures
from tests import hook_flows
from tests.studio.test_access import bearer, keys  # noqa: F401  (the fixture)


@pytest.fixture
def api(client: rt.Client, keys: dict[str, str]) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_api(lambda: client)) as http:
        yield http


def test_editors_manage_webhooks_viewers_read_them(
    api: TestClient,
    client: rt.Client,
    keys: dict[str, str],  # noqa: F811
) -> None:
    client.publish(hook_flows.echo)
    viewer, editor = bearer(keys["viewer"]), bearer(keys["editor"])
    url = "/api/v1/workflows/hook_echo/webhooks"
    refused = api.post(url, json={}, headers=viewer)
    assert refused.status_code == 403 and "takes the editor role" in refused.json()["detail"]
    assert api.post(url, json={}).status_code == 401
    assert api.get(url, headers=viewer).json() == []
    made = api.post(url, json={"mode": "standard"}, headers=editor)
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["secret"].startswith("whsec_") and created["path"] == f"/hooks/{created['id']}"
    listed = api.get(url, headers=viewer).json()
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    bad = api.post(url, json={"mapping": {"nope": "x"}}, headers=editor)
    assert bad.status_code == 422 and "'nope' is not a run input" in bad.json()["detail"]
    assert api.post("/api/v1/workflows/nobody/webhooks", json={}, headers=editor).status_code == 404

    body = b'{"hello": "world"}'
    ts = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": "m1",
        "webhook-timestamp": str(ts),
        "webhook-signature": signatures.sign(created["secret"], "m1", ts, body),
    }
    # the hook needs no key: its signature is its authentication (documented so)
    hook = api.get("/api/v1/openapi.json").json()["paths"]["/hooks/{endpoint_id}"]["post"]
    assert "security" not in hook and {"200", "202", "401", "413", "422", "429"} <= set(
        hook["responses"]
    )
    run_id = api.post(created["path"], content=body, headers=headers).json()["run_id"]
    deliveries = api.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=viewer).json()
    assert [(d["status_code"], d["verdict"], d["run_id"]) for d in deliveries] == [
        (202, "valid", run_id)
    ]
    assert api.post(f"/api/v1/webhooks/{created['id']}/test", headers=viewer).status_code == 403
    tested = api.post(f"/api/v1/webhooks/{created['id']}/test", headers=editor).json()
    assert tested["status_code"] == 202 and tested["body"]["run_id"] != run_id

    rotate = f"/api/v1/webhooks/{created['id']}/rotate"
    assert api.post(rotate, json={}, headers=viewer).status_code == 403
    rotated = api.post(rotate, json={"overlap_seconds": 60}, headers=editor).json()
    assert rotated["secret"] != created["secret"]
    assert api.delete(f"/api/v1/webhooks/{created['id']}", headers=viewer).status_code == 403
    assert api.delete(f"/api/v1/webhooks/{created['id']}", headers=editor).status_code == 200
    assert api.get(url, headers=viewer).json() == []
    assert api.post(created["path"], content=body, headers=headers).status_code == 404

    found, _ = audit.entries(client.store, action="webhook.")
    actions = [(e.action, e.outcome) for e in reversed(found)]
    assert [a for a in actions if a[1] == "ok"] == [
        ("webhook.create", "ok"),
        ("webhook.rotate", "ok"),
        ("webhook.delete", "ok"),
    ]
    assert all(created["secret"] not in json.dumps(e.detail) for e in found)


def test_limits_and_priority_through_the_api(
    api: TestClient,
    client: rt.Client,
    keys: dict[str, str],  # noqa: F811
) -> None:
    client.publish(hook_flows.echo)
    editor = bearer(keys["editor"])
    url = "/api/v1/workflows/hook_echo/limits"
    assert api.put(url, json={"max_concurrent_runs": 0}, headers=editor).status_code == 422
    assert (
        api.put(url, json={"max_concurrent_runs": 2}, headers=bearer(keys["viewer"])).status_code
        == 403
    )
    assert api.put(url, json={"max_concurrent_runs": 2}, headers=editor).json() == {
        "max_concurrent_runs": 2
    }
    started = api.post(
        "/api/v1/workflows/hook_echo/runs",
        json={"inputs": {"payload": 1}, "priority": 5},
        headers=editor,
    )
    assert started.status_code == 201
    assert client.store.get_run(started.json()["id"]).priority == 5
    assert api.put(url, json={"max_concurrent_runs": None}, headers=editor).status_code == 200


def test_an_api_key_past_its_rate_limit_gets_429(
    client: rt.Client,
    keys: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLAIT_API_KEY_RATE_LIMIT", "3 per minute")
    config.settings.cache_clear()
    try:
        with TestClient(create_api(lambda: client)) as http:
            viewer = bearer(keys["viewer"])
            codes = [http.get("/api/v1/workflows", headers=viewer).status_code for _ in range(3)]
            refused = http.get("/api/v1/workflows", headers=viewer)
            assert codes == [200, 200, 200] and refused.status_code == 429
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert "too many requests with this API key" in refused.json()["detail"]
            # another key has its own count
            assert http.get("/api/v1/workflows", headers=bearer(keys["editor"])).status_code == 200
    finally:
        config.settings.cache_clear()
