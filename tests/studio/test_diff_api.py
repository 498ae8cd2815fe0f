"""Comparing runs through the REST API (``GET /api/v1/runs/{a}/diff/{b}``) and the remote
SDK, on SQLite and PostgreSQL: the diff as the runs' redaction shows it, both runs' access
checked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

import runtime as rt
from runtime.api import create_api
from runtime.auth.apikeys import ApiKeys
from runtime.auth.users import Users
from tests import secret_flows
from tests.core import test_node_sources as node_sources
from tests.faults.servers import free_port
from tests.secret_flows import assert_no_secret
from tests.studio import flows


@pytest.fixture
def api(client: rt.Client) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: client)) as http:
        yield http


def test_diff_of_two_runs(api: TestClient, client: rt.Client) -> None:
    a = flows.failing.run(n=2).wait(30)
    b = flows.failing.run(n=3).wait(30)
    answer = api.get(f"/api/v1/runs/{a.id}/diff/{b.id}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["a"] == a.id and body["b"] == b.id
    assert body["workflow"] == ["studio_failing", "studio_failing"]
    assert body["summary"] == "1 changed, 1 unchanged; inputs changed: n"
    assert body["inputs"]["n"]["detail"]["delta"] == 1
    load, explode = body["nodes"]
    assert load["change"] == "changed" and load["value"]["lines"] == ["+ $[2]: 2"]
    # failed in both with the same error: the same
    assert explode["change"] == "unchanged" and explode["status"] == ["failed", "failed"]
    assert body == rt.RunDiff.from_dict(body).to_dict() | {"summary": body["summary"]}
    missing = api.get(f"/api/v1/runs/{a.id}/diff/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_diff_shows_no_secret(api: TestClient, client: rt.Client) -> None:
    a = secret_flows.leaky.run(db_password=secret_flows.DB_PASSWORD).wait(30)
    b = secret_flows.leaky.run(db_password=secret_flows.DB_PASSWORD + "-2").wait(30)
    answer = api.get(f"/api/v1/runs/{a.id}/diff/{b.id}")
    assert answer.status_code == 200, answer.text
    assert_no_secret(answer.text, "the diff")
    assert secret_flows.DB_PASSWORD + "-2" not in answer.text
    assert [n["name"] for n in answer.json()["nodes"]][:2] == ["connect", "check"]


def test_a_key_compares_only_runs_it_reaches(api: TestClient, client: rt.Client) -> None:
    Users(client.store).add("alice", "admin", "correct horse battery")
    token, _ = ApiKeys(client.store).create(
        "approvals", "viewer", workflows=["studio_approval"], by="alice"
    )
    headers = {"Authorization": f"Bearer {token}"}
    mine = flows.approval.run().wait(30)
    also_mine = flows.approval.run(topic="coffee").wait(30)
    theirs = flows.failing.run().wait(30)
    ok = api.get(f"/api/v1/runs/{mine.id}/diff/{also_mine.id}", headers=headers)
    assert ok.status_code == 200 and ok.json()["inputs"]["topic"]["summary"] == ("'tea' → 'coffee'")
    for path in (f"{mine.id}/diff/{theirs.id}", f"{theirs.id}/diff/{mine.id}"):
        refused = api.get(f"/api/v1/runs/{path}", headers=headers)
        assert refused.status_code == 403 and "studio_approval" in refused.json()["detail"]


@pytest.fixture
def served(client: rt.Client) -> Iterator[str]:
    config = uvicorn.Config(
        create_api(lambda: client), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{config.port}"
    server.should_exit = True
    thread.join(10)


def test_the_remote_sdk_diffs_through_the_api(served: str, client: rt.Client) -> None:
    Users(client.store).add("alice", "admin", "correct horse battery")
    token, _ = ApiKeys(client.store).create("reader", "viewer", by="alice")
    a = flows.failing.run(n=2).wait(30)
    b = flows.failing.run(n=4).wait(30)
    remote = rt.connect(api_url=served, api_key=token)
    try:
        d = remote.get_run(b.id).diff(a.id)
        assert isinstance(d, rt.RunDiff) and list(d.changed) == ["load"]
        assert d.inputs["n"].summary == "2 → 4 (+2, +100.0%)"
        assert d.to_dict() == client.get_run(b.id).diff(a.id).to_dict() | {
            "version": d.to_dict()["version"]
        }
    finally:
        remote.close()


def test_the_version_diff_shows_code_changes(api: TestClient, client: rt.Client) -> None:
    v1 = client.publish(node_sources.codes(node_sources.load_v1))
    v2 = client.publish(node_sources.codes(node_sources.load_v2))
    answer = api.get(
        "/api/v1/workflows/codes/diff", params={"old": v1.version[:8], "new": v2.version}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["old"], body["new"]) == (v1.version, v2.version)
    old, new = (node_sources.source(f) for f in (node_sources.load_v1, node_sources.load_v2))
    assert body["changed"] == {"load": [{"field": "code", "old": old, "new": new}]}
    assert sorted(body["unchanged"]) == ["double", "total"]


def test_the_remote_sdk_sends_its_node_sources(served: str, client: rt.Client) -> None:
    Users(client.store).add("alice", "admin", "correct horse battery")
    token, _ = ApiKeys(client.store).create("publisher", "editor", by="alice")
    remote = rt.connect(api_url=served, api_key=token)
    try:
        remote.publish(node_sources.codes(node_sources.load_v1))
    finally:
        remote.close()
    stored = client.store.find_version("codes")
    assert stored.node_sources == {
        "load": node_sources.source(node_sources.load_v1),
        "total": node_sources.source(node_sources.total),
    }
    # what names no node of the spec is not kept
    with TestClient(create_api(lambda: client)) as http:
        spec = node_sources.codes(node_sources.load_v2).spec()
        answer = http.post(
            "/api/v1/workflows/codes/versions",
            json={"version": "ab" * 8, "spec": spec, "code": "", "node_sources": {"ghost": "x"}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 201, answer.text
    assert client.store.find_version("codes", "ab" * 8).node_sources is None
