"""Building workflows over REST: an editor creates, saves (a stale revision is a 409),
validates, test-runs and publishes a draft as the signed-in author; a viewer reads but
changes nothing; versions, diff, make current, archive, duplicate, delete, export and import
into a fresh store. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import runtime as rt
from runtime.api import create_api
from runtime.auth.apikeys import ApiKeys
from runtime.auth.users import Users
from tests.conftest import make_client
from tests.core.test_drafts import greeter

API = "/api/v1"


@pytest.fixture
def keys(client: rt.Client) -> dict[str, str]:
    Users(client.store).add("alice", "admin", "correct horse battery")
    return {
        role: ApiKeys(client.store).create(f"{role}-key", role, by="alice")[0]
        for role in ("viewer", "editor")
    }


@pytest.fixture
def api(client: rt.Client) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: client)) as http:
        yield http


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_editors_build_and_publish_viewers_look(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    editor, viewer = as_(keys["editor"]), as_(keys["viewer"])
    body = {"name": "greeter", "spec": greeter()}
    assert api.post(f"{API}/workflows", json=body, headers=viewer).status_code == 403
    created = api.post(f"{API}/workflows", json=body, headers=editor)
    assert created.status_code == 201, created.text
    assert (created.json()["revision"], created.json()["problems"]) == (1, [])
    assert api.post(f"{API}/workflows", json=body, headers=editor).status_code == 409

    spec = greeter("hi")
    spec["nodes"][1]["options"]["template"] = "{{ nodes.ghost.output }}"
    saved = api.put(
        f"{API}/workflows/greeter/draft", json={"revision": 1, "spec": spec}, headers=editor
    )
    assert saved.status_code == 200 and saved.json()["revision"] == 2
    assert saved.json()["problems"] == [
        {"node": "say", "field": "options.template", "message": "names unknown node 'ghost'"}
    ]
    stale = api.put(
        f"{API}/workflows/greeter/draft", json={"revision": 1, "spec": greeter()}, headers=editor
    )
    assert stale.status_code == 409 and "it is at revision 2" in stale.json()["detail"]
    assert api.get(f"{API}/workflows/greeter/draft", headers=viewer).json()["revision"] == 2
    refused = api.post(
        f"{API}/workflows/greeter/draft/publish", json={"message": "broken"}, headers=editor
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["say", "options.template"]
    checked = api.post(
        f"{API}/workflows/greeter/draft/validate", json={"spec": greeter()}, headers=viewer
    )
    assert checked.status_code == 200 and checked.json() == []

    api.put(
        f"{API}/workflows/greeter/draft", json={"revision": 2, "spec": greeter()}, headers=editor
    )
    started = api.post(f"{API}/workflows/greeter/draft/runs", json={}, headers=editor)
    assert started.status_code == 201, started.text
    run = client.get_run(started.json()["run_id"]).wait(60)
    assert run.outputs == {"say": "hello ADA"} and run.record.trigger == "draft"
    assert (
        api.post(f"{API}/workflows/greeter/draft/runs", json={}, headers=viewer).status_code == 403
    )

    first = api.post(
        f"{API}/workflows/greeter/draft/publish", json={"message": "hello"}, headers=editor
    )
    assert first.status_code == 201, first.text
    author = first.json()["created_by"]
    assert author.startswith("editor-key (key ")  # the signed-in caller
    api.put(
        f"{API}/workflows/greeter/draft",
        json={"revision": 3, "spec": greeter("hi")},
        headers=editor,
    )
    second = api.post(
        f"{API}/workflows/greeter/draft/publish", json={"message": "hi"}, headers=editor
    ).json()
    versions = api.get(f"{API}/workflows/greeter/versions", headers=viewer).json()
    assert [(v["version"], v["message"], v["current"], v["created_by"]) for v in versions] == [
        (second["version"], "hi", True, author),
        (first.json()["version"], "hello", False, author),
    ]
    diff = api.get(
        f"{API}/workflows/greeter/diff",
        params={"old": first.json()["version"], "new": second["version"]},
        headers=viewer,
    ).json()
    assert list(diff["changed"]) == ["say"] and diff["unchanged"] == ["shout"]
    assert diff["changed"]["say"][0]["field"] == "options.template"

    back = {"version": first.json()["version"]}
    assert api.put(f"{API}/workflows/greeter/current", json=back, headers=viewer).status_code == 403
    assert api.put(f"{API}/workflows/greeter/current", json=back, headers=editor).status_code == 200
    current = api.get(f"{API}/workflows/greeter", headers=viewer).json()
    assert current["version"] == first.json()["version"]
    listed = api.get(f"{API}/workflows", headers=viewer).json()
    assert [(w["name"], w["current_version"]) for w in listed] == [
        ("greeter", first.json()["version"])
    ]


def test_archive_duplicate_delete_export_import(
    api: TestClient, client: rt.Client, keys: dict[str, str], tmp_path: Path
) -> None:
    editor, viewer = as_(keys["editor"]), as_(keys["viewer"])
    api.post(f"{API}/workflows", json={"name": "greeter", "spec": greeter()}, headers=editor)
    published = api.post(
        f"{API}/workflows/greeter/draft/publish", json={"message": "one"}, headers=editor
    ).json()
    assert api.post(f"{API}/workflows/greeter/archive", headers=editor).json()["archived"]
    assert api.get(f"{API}/workflows", headers=viewer).json() == []
    assert len(api.get(f"{API}/workflows?archived=true", headers=viewer).json()) == 1
    api.post(f"{API}/workflows/greeter/restore", headers=editor)

    copy = api.post(f"{API}/workflows/greeter/duplicate", json={"name": "copy"}, headers=editor)
    assert copy.status_code == 201 and copy.json()["spec"]["name"] == "copy"
    assert api.delete(f"{API}/workflows/copy", headers=viewer).status_code == 403
    assert api.delete(f"{API}/workflows/copy", headers=editor).status_code == 204
    client.start_version(published_id(client), {"who": "x"}).wait(60)
    held = api.delete(f"{API}/workflows/greeter", headers=editor)
    assert held.status_code == 409 and "1 runs reference it" in held.json()["detail"]

    exported = api.get(f"{API}/workflows/greeter/export", headers=viewer).json()
    assert exported["version"] == published["version"]
    fresh = make_client(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path / "fresh")
    try:
        with TestClient(create_api(lambda: fresh)) as other:
            done = other.post(f"{API}/workflows/import", json={"file": exported})
            assert done.status_code == 201, done.text
            assert done.json()["version"] == published["version"]
            odd: dict[str, Any] = {**exported, "draft": {**exported["draft"]}}
            odd["draft"]["nodes"] = [{**exported["draft"]["nodes"][0], "kind": "warp"}]
            said = other.post(f"{API}/workflows/import", json={"file": odd, "name": "odd"})
            assert said.status_code == 422 and "unknown node kinds: warp" in said.json()["detail"]
    finally:
        fresh.close()


def published_id(client: rt.Client) -> int:
    found = client.store.find_version("greeter")
    assert found.id is not None
    return found.id
