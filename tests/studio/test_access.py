"""Who may do what through the REST API (every operation's role rule, 401 and 403 answers,
a key's workflows, the audit log), and the remote SDK and CLI driving a studio's API served
by uvicorn, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import runtime as rt
from runtime import audit
from runtime import client as client_module
from runtime.api import create_api
from runtime.auth.apikeys import ApiKeys
from runtime.auth.roles import Forbidden, Unauthenticated
from runtime.auth.users import Users
from runtime.cli import app as cli
from runtime.config import settings
from runtime.errors import PayloadError
from tests.faults.servers import free_port
from tests.studio import flows

ROOT = Path(__file__).parent.parent.parent

NEEDS: dict[tuple[str, str], str] = {
    ("get", "/api/v1/me"): "read",
    ("get", "/api/v1/workflows"): "read",
    ("get", "/api/v1/workflows/{name}"): "read",
    ("get", "/api/v1/workflows/{name}/versions"): "read",
    ("post", "/api/v1/workflows/{name}/versions"): "write",
    ("get", "/api/v1/workflows/{name}/versions/{version}"): "read",
    ("post", "/api/v1/workflows/{name}/runs"): "write",
    ("get", "/api/v1/runs"): "read",
    ("get", "/api/v1/runs/{run_id}"): "read",
    ("get", "/api/v1/runs/{run_id}/events"): "read",
    ("get", "/api/v1/runs/{run_id}/nodes/{node}/output"): "read",
    ("get", "/api/v1/runs/{run_id}/inputs/{name}"): "read",
    ("get", "/api/v1/runs/{run_id}/documents"): "read",
    ("get", "/api/v1/runs/{run_id}/diff/{other}"): "read",
    ("get", "/api/v1/runs/{run_id}/nodes/{node}/elements"): "read",
    ("get", "/api/v1/node-kinds"): "read",
    ("get", "/api/v1/templates"): "read",
    ("post", "/api/v1/templates/{name}/use"): "write",
    ("post", "/api/v1/runs/{run_id}/resume"): "write",
    ("post", "/api/v1/runs/{run_id}/cancel"): "write",
    ("post", "/api/v1/runs/{run_id}/retry"): "write",
    ("post", "/api/v1/runs/{run_id}/rerun"): "write",
    ("post", "/api/v1/runs/{run_id}/replay"): "write",
    ("post", "/api/v1/runs/{run_id}/replay/plan"): "write",
    ("get", "/api/v1/runs/{run_id}/report"): "read",
    ("get", "/api/v1/runs/{run_id}/links"): "read",
    ("post", "/api/v1/runs/{run_id}/links"): "write",
    ("delete", "/api/v1/runs/{run_id}/links/{link_id}"): "write",
    ("get", "/api/v1/users"): "admin",
    ("post", "/api/v1/users"): "admin",
    ("patch", "/api/v1/users/{name}"): "admin",
    ("post", "/api/v1/users/{name}/password"): "admin",
    ("get", "/api/v1/keys"): "admin",
    ("post", "/api/v1/keys"): "admin",
    ("delete", "/api/v1/keys/{key_id}"): "admin",
    ("get", "/api/v1/secrets"): "admin",
    ("put", "/api/v1/secrets/{name}"): "admin",
    ("delete", "/api/v1/secrets/{name}"): "admin",
    ("get", "/api/v1/audit"): "admin",
    ("get", "/api/v1/schedules"): "read",
    ("post", "/api/v1/workflows/{name}/schedules"): "write",
    ("get", "/api/v1/schedules/{schedule_id}"): "read",
    ("post", "/api/v1/schedules/{schedule_id}/pause"): "write",
    ("post", "/api/v1/schedules/{schedule_id}/resume"): "write",
    ("delete", "/api/v1/schedules/{schedule_id}"): "write",
    ("put", "/api/v1/workflows/{name}/limits"): "write",
    ("get", "/api/v1/workflows/{name}/webhooks"): "read",
    ("post", "/api/v1/workflows/{name}/webhooks"): "write",
    ("post", "/api/v1/webhooks/{endpoint_id}/rotate"): "write",
    ("delete", "/api/v1/webhooks/{endpoint_id}"): "write",
    ("get", "/api/v1/webhooks/{endpoint_id}/deliveries"): "read",
    ("post", "/api/v1/webhooks/{endpoint_id}/test"): "write",
    ("post", "/hooks/{endpoint_id}"): "signature",
    ("post", "/api/v1/workflows"): "write",
    ("get", "/api/v1/workflows/{name}/draft"): "read",
    ("put", "/api/v1/workflows/{name}/draft"): "write",
    ("delete", "/api/v1/workflows/{name}/draft"): "write",
    ("post", "/api/v1/workflows/{name}/draft/validate"): "read",
    ("post", "/api/v1/workflows/{name}/draft/publish"): "write",
    ("post", "/api/v1/workflows/{name}/draft/runs"): "write",
    ("post", "/api/v1/workflows/{name}/versions/{version}/draft"): "write",
    ("get", "/api/v1/workflows/{name}/diff"): "read",
    ("put", "/api/v1/workflows/{name}/current"): "write",
    ("post", "/api/v1/workflows/{name}/archive"): "write",
    ("post", "/api/v1/workflows/{name}/restore"): "write",
    ("post", "/api/v1/workflows/{name}/duplicate"): "write",
    ("delete", "/api/v1/workflows/{name}"): "write",
    ("get", "/api/v1/workflows/{name}/export"): "read",
    ("post", "/api/v1/workflows/import"): "write",
}
ALLOWED = {"read": {"viewer", "editor", "admin"}, "write": {"editor", "admin"}, "admin": {"admin"}}


@pytest.fixture
def keys(client: rt.Client) -> dict[str, str]:
    """An account (so logins are on) and one key per role."""
    Users(client.store).add("alice", "admin", "correct horse battery")
    made = {}
    for role in ("viewer", "editor", "admin"):
        made[role], _ = ApiKeys(client.store).create(role, role, by="alice")
    return made


@pytest.fixture
def api(client: rt.Client, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: client)) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_operation_checks_its_role(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    run = flows.approval.run(topic="roles").wait(30)
    schema = api.get("/api/v1/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "plait_<id>_<secret>",
        "description": "An API key (`plait keys create`, or the studio's API keys page).",
    }
    operations = {(m, p) for p, ops in schema["paths"].items() for m in ops}
    assert operations == set(NEEDS), operations ^ set(NEEDS)
    values = {
        "name": "studio_approval",
        "run_id": run.id,
        "other": run.id,
        "node": "draft",
        "version": flows.approval.version,
        "link_id": "1",
        "key_id": "000000000000",
        "schedule_id": "1",
        "endpoint_id": "wh_nobody",
    }
    for (method, template), need in NEEDS.items():
        if need == "signature":  # a webhook: its signature is its authentication
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], template)
        if template.startswith("/api/v1/users/") or template.startswith("/api/v1/secrets/"):
            path = path.replace("studio_approval", "nobody_here")
        nobody = api.request(method, path, json={})
        assert nobody.status_code == 401, (method, template, nobody.text)
        for role, token in keys.items():
            answer = api.request(method, path, json={}, headers=bearer(token))
            if role in ALLOWED[need]:
                assert answer.status_code not in (401, 403), (method, template, role, answer.text)
            else:
                assert answer.status_code == 403, (method, template, role, answer.text)
                assert (
                    f"takes the {'editor' if need == 'write' else 'admin'} role"
                    in (answer.json()["detail"])
                )


def test_a_viewer_cancelling_gets_403_and_nothing_changes(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    run = flows.approval.run().wait(30)
    refused = api.post(f"/api/v1/runs/{run.id}/cancel", headers=bearer(keys["viewer"]))
    assert refused.status_code == 403
    assert run.status == "waiting" and not run.record.cancel_requested
    entries, _ = audit.entries(client.store, action="POST /api/v1/runs/{run_id}/cancel")
    assert [(e.actor, e.outcome, e.target) for e in entries] == [
        (f"viewer (key {keys['viewer'].split('_')[1]})", "denied", run.id)
    ]
    done = api.post(f"/api/v1/runs/{run.id}/cancel", headers=bearer(keys["editor"]))
    assert done.json()["status"] == "cancelled"


def test_bad_keys_all_get_the_same_401(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    keys_repo = ApiKeys(client.store)
    expired, info = keys_repo.create("old", "admin", by="alice")
    with client.store.write() as conn:
        import sqlalchemy as sa

        from runtime.store import tables

        conn.execute(
            sa.update(tables.api_key)
            .where(tables.api_key.c.id == info.id)
            .values(expires_at=tables.utcnow())
        )
    revoked, info = keys_repo.create("gone", "admin", by="alice")
    keys_repo.revoke(info.id)
    wrong_secret = keys["admin"][:-2] + ("xy" if not keys["admin"].endswith("xy") else "zz")
    answers = []
    for header in [
        "Bearer " + expired,
        "Bearer " + revoked,
        "Bearer " + wrong_secret,
        "Bearer plait_000000000000_" + "a" * 43,
        "Bearer nonsense",
        "Basic YWxpY2U6cHc=",
    ]:
        answer = api.get("/api/v1/runs", headers={"Authorization": header})
        answers.append((answer.status_code, answer.json(), answer.headers["www-authenticate"]))
    assert len(set(map(repr, answers))) == 1, answers
    assert answers[0][0] == 401 and answers[0][2] == "Bearer"
    assert api.get("/api/v1/runs", headers=bearer(keys["viewer"])).status_code == 200


def test_a_key_reaches_only_its_workflows(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    token, _ = ApiKeys(client.store).create(
        "approvals", "editor", workflows=["studio_approval"], by="alice"
    )
    mine = flows.approval.run().wait(30)
    theirs = flows.failing.run().wait(30)
    listed = api.get("/api/v1/workflows", headers=bearer(token)).json()
    assert [w["name"] for w in listed] == ["studio_approval"]
    runs = api.get("/api/v1/runs", headers=bearer(token)).json()
    assert [r["id"] for r in runs["runs"]] == [mine.id]
    for method, path in [
        ("get", f"/api/v1/runs/{theirs.id}"),
        ("get", f"/api/v1/runs/{mine.id}/diff/{theirs.id}"),
        ("get", f"/api/v1/runs/{theirs.id}/diff/{mine.id}"),
        ("post", f"/api/v1/runs/{theirs.id}/retry"),
        ("get", "/api/v1/workflows/studio_failing"),
        ("post", "/api/v1/workflows/studio_failing/runs"),
    ]:
        answer = api.request(method, path, json={}, headers=bearer(token))
        assert answer.status_code == 403 and "studio_approval" in answer.json()["detail"], path


def test_admin_operations_change_users_keys_and_secrets(
    api: TestClient, client: rt.Client, keys: dict[str, str]
) -> None:
    admin = bearer(keys["admin"])
    made = api.post(
        "/api/v1/users",
        json={"name": "bob", "role": "viewer", "password": "another long one"},
        headers=admin,
    )
    assert made.status_code == 201 and made.json()["created_by"].startswith("admin (key ")
    bad = api.post(
        "/api/v1/users", json={"name": "Bob!", "role": "viewer", "password": "x"}, headers=admin
    )
    assert bad.status_code == 422 and "user name" in bad.json()["detail"]
    assert (
        api.patch("/api/v1/users/bob", json={"role": "editor"}, headers=admin).json()["role"]
        == "editor"
    )
    created = api.post(
        "/api/v1/keys", json={"name": "ci", "role": "editor", "expires": "90d"}, headers=admin
    ).json()
    assert created["token"].startswith("plait_") and created["state"] == "active"
    assert "token" not in api.get("/api/v1/keys", headers=admin).json()[0]
    assert api.get("/api/v1/me", headers=bearer(created["token"])).json()["role"] == "editor"
    assert api.delete(f"/api/v1/keys/{created['id']}", headers=admin).json()["state"] == "revoked"
    assert api.get("/api/v1/me", headers=bearer(created["token"])).status_code == 401
    stored = api.put(
        "/api/v1/secrets/OPENAI_API_KEY", json={"value": "sk-abcdef123"}, headers=admin
    )
    assert stored.status_code == 201 and "sk-abcdef123" not in stored.text
    listed = api.get("/api/v1/secrets", headers=admin)
    assert listed.json()[0]["name"] == "OPENAI_API_KEY" and "sk-abcdef123" not in listed.text
    assert (
        api.put("/api/v1/secrets/bad-name", json={"value": "sk-abcdef"}, headers=admin).status_code
        == 422
    )
    assert api.delete("/api/v1/secrets/OPENAI_API_KEY", headers=admin).status_code == 204
    log = api.get("/api/v1/audit", headers=admin).json()
    actions = [e["action"] for e in log["entries"]]
    for action in (
        "user.add",
        "user.set_role",
        "key.create",
        "key.revoke",
        "secret.create",
        "secret.delete",
    ):
        assert action in actions, action
    assert all(e["actor"] for e in log["entries"] if e["action"] != "POST /api/v1/users")


# -- the remote SDK and CLI against a served API ---------------------------------------------


@pytest.fixture
def served(client: rt.Client, keys: dict[str, str]) -> Iterator[str]:
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


def test_the_remote_sdk_drives_runs_through_the_api(
    served: str, client: rt.Client, keys: dict[str, str], tmp_path: Path
) -> None:
    remote = rt.connect(api_url=served, api_key=keys["editor"])
    try:
        run = flows.approval.run(topic="remote")
        assert type(run) is rt.Run and run.client is remote
        assert run.wait(30).status == "waiting"
        assert set(run.waiting) == {"review"} and run.inputs == {"topic": "remote"}
        assert run.output("draft")["topic"] == "remote"
        with pytest.raises(PayloadError) as invalid:
            run.resume("review", amount=0)
        assert invalid.value.errors[0]["loc"] == ("amount",)
        run.resume("review", amount=2, note="from afar")
        assert run.wait(30).status == "succeeded"
        assert run.outputs == {"result": {"topic": "remote", "amount": 2, "decision": "approve"}}
        events = [e["type"] for e in run.events()]
        assert events[0] == "run.queued" and events[-1] == "run.succeeded"
        assert run.record.owner == f"editor (key {keys['editor'].split('_')[1]})"
        assert run.nodes["review"].attempts == 1
        assert "<html" in run.report(str(tmp_path / "r.html")).lower()
        stored = client.get_run(run.id).record
        assert stored.trigger == "api" and stored.owner == run.record.owner

        gate = tmp_path / "gate"
        gated = flows.gated.run(gate_file=str(gate))
        gated.events(timeout=30).__next__()
        assert gated.cancel() in ("cancelled", "running")
        assert gated.wait(30).status == "cancelled"
        frame = client.get_run(gated.id)
        assert frame.status == "cancelled"
        # retry continues the same run, rerun starts another; both through the API
        assert gated.retry().id == gated.id
        assert gated.events(client.last_seq(gated.id) - 1, timeout=30).__next__()
        assert gated.status in ("queued", "running")
        assert gated.cancel() in ("cancelled", "running")
        assert gated.wait(30).status == "cancelled"
        fresh = gated.rerun()
        assert fresh.id != gated.id and fresh.inputs == gated.inputs
        assert fresh.cancel() in ("cancelled", "running", "queued")
        assert fresh.wait(30).status == "cancelled"
        assert {r.id for r in rt.runs(limit=10)} >= {run.id, gated.id}

        done = flows.gated.run(gate_file=str(gate), rows=4)
        gate.touch()
        assert done.wait(30).status == "succeeded"
        assert list(done.output("prepare").columns) == ["n", "square"]
        assert [d.name for d in done.documents] == ["squares"]

        shown = CliRunner().invoke(cli, ["show", run.id], catch_exceptions=False)
        assert shown.exit_code == 0 and "review" in shown.output and "succeeded" in shown.output
        listed = CliRunner().invoke(cli, ["runs"], catch_exceptions=False)
        assert run.id in listed.output
    finally:
        remote.close()
        client_module._default = None

    viewer = rt.connect(api_url=served, api_key=keys["viewer"])
    try:
        with pytest.raises(Forbidden, match="takes the editor role"):
            flows.typed.run(count=1)
    finally:
        viewer.close()
    nobody = rt.connect(api_url=served, api_key="plait_000000000000_" + "a" * 43)
    try:
        with pytest.raises(Unauthenticated):
            rt.runs()
    finally:
        nobody.close()
        client_module._default = None


def test_versions_name_who_published_them(
    served: str, client: rt.Client, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.states import workflow as workflow_page

    monkeypatch.setenv("LOGNAME", "ada")  # getpass.getuser() reads it first
    client.publish(flows.typed)  # embedded: the process acts as its OS user
    editor = f"editor (key {keys['editor'].split('_')[1]})"
    remote = rt.connect(api_url=served, api_key=keys["editor"])
    try:
        published = remote.publish(flows.approval)
        assert published["created_by"] == editor
        again = rt.connect(api_url=served, api_key=keys["admin"])
        try:  # publishing is idempotent: the first publisher stays
            assert again.publish(flows.approval)["created_by"] == editor
        finally:
            again.close()
    finally:
        remote.close()
        client_module._default = client

    def get(path: str) -> Any:
        answer = httpx.get(served + path, headers=bearer(keys["viewer"]), timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    version = flows.approval.version
    assert get("/api/v1/workflows/studio_approval")["created_by"] == editor
    assert get(f"/api/v1/workflows/studio_approval/versions/{version[:12]}")["created_by"] == editor
    (listed,) = get("/api/v1/workflows/studio_approval/versions")
    assert (listed["version"], listed["created_by"]) == (version, editor)
    assert get("/api/v1/workflows/studio typed inputs")["created_by"] == "cli:ada"
    assert get("/api/v1/workflows/studio typed inputs/versions")[0]["created_by"] == "cli:ada"
    # the studio's versions table shows the same
    shown = workflow_page.load("studio_approval", None)
    assert shown is not None and [v.publisher for v in shown.versions] == [editor]
    typed = workflow_page.load("studio typed inputs", None)
    assert typed is not None and typed.versions[0].publisher == "cli:ada"


def test_the_sdk_and_cli_configured_by_environment_drive_a_served_api(
    served: str,
    client: rt.Client,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``PLAIT_API_URL`` + ``PLAIT_API_KEY`` and no database: a key made with ``plait keys
    create`` publishes, runs and lists through the API, from this process and from a
    ``plait`` process of its own; a wrong key is refused with 401 and starts nothing."""
    db_env = {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(tmp_path / "home"),
    }
    made = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "keys", "create", "--name", "remote", "--role",
         "editor", "--expires", "1d"],
        env=db_env, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    actor = f"remote (key {token.split('_')[1]})"
    remote_env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    remote_env |= {"PLAIT_API_URL": served, "PLAIT_API_KEY": token, "PYTHONPATH": str(ROOT)}
    remote_env["PLAIT_HOME"] = str(tmp_path / "nowhere")  # no store, no keys of its own

    def plait(*args: str, env: dict[str, str] = remote_env) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env=env, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
        )  # fmt: skip

    ran = plait("run", "tests.studio.flows:typed", "-i", "count=3", "-i", "label=far")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1].startswith("echo = ") and "'far'" in ran.stdout
    run_id = ran.stdout.split()[1]
    stored = client.get_run(run_id).record  # it ran where the API runs, for the key
    assert (stored.status, stored.trigger, stored.owner) == ("succeeded", "api", actor)
    assert client.store.version_infos("studio typed inputs")[0].created_by == actor
    listed = plait("runs")
    assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr
    assert "succeeded" in plait("show", run_id).stdout

    # the SDK reads the same variables: connect() with no arguments drives the API
    with monkeypatch.context() as env:
        for name in [k for k in os.environ if k.startswith("PLAIT_")]:
            env.delenv(name)
        env.setenv("PLAIT_API_URL", served)
        env.setenv("PLAIT_API_KEY", token)
        settings.cache_clear()  # read the environment as a fresh process would
        remote = rt.connect()
        try:
            assert not isinstance(remote, rt.Client)
            run = flows.typed.run(count=2, loud=True, label="sdk")
            assert run.client is remote and run.wait(30).status == "succeeded"
            assert run.output("echo") == {"count": 2, "ratio": 0.5, "label": "SDK"}
            assert run.id in {r.id for r in rt.runs(limit=5)}
        finally:
            remote.close()
            client_module._default = client
    settings.cache_clear()  # the environment is this process's own again

    # the right key's id with a wrong secret: the same 401 as any bad key
    wrong = {**remote_env, "PLAIT_API_KEY": f"plait_{token.split('_')[1]}_" + "a" * 43}
    before = client.store.list_runs(limit=50)
    refused = plait("run", "tests.studio.flows:typed", "-i", "count=1", env=wrong)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "authentication required" in refused.stderr, refused.stderr
    nothing = plait("runs", env=wrong)
    assert nothing.returncode == 1 and "authentication required" in nothing.stderr
    assert client.store.list_runs(limit=50) == before  # nothing started
    denied, _ = audit.entries(client.store, action="POST /api/v1/workflows")
    assert denied[0].outcome == "denied" and denied[0].actor is None
