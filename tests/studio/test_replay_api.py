"""Replay through the REST API (``POST /runs/{id}/replay`` and ``.../replay/plan``), the
remote SDK, and the ``plait replay`` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import runtime as rt
from runtime.api import create_api
from runtime.auth.apikeys import ApiKeys
from runtime.auth.users import Users
from tests.core import replay_flows as flows
from tests.core.replay_flows import executions
from tests.studio.test_access import served  # noqa: F401  (a fixture)


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger"
    path.mkdir()
    monkeypatch.setenv("PLAIT_REPLAY_LEDGER", str(path))
    return path


@pytest.fixture
def keys(client: rt.Client) -> dict[str, str]:
    Users(client.store).add("alice", "admin", "correct horse battery")
    return {
        role: ApiKeys(client.store).create(role, role, by="alice")[0]
        for role in ("viewer", "editor")
    }


@pytest.fixture
def api(client: rt.Client, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: client)) as http:
        yield http


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_plan_then_replay_through_the_api(
    api: TestClient, client: rt.Client, keys: dict[str, str], ledger: Path
) -> None:
    source = flows.pipeline(fixed=True).run(rows=5, title="api").wait(60)
    assert source.status == "succeeded", source.error
    for p in ledger.iterdir():
        p.unlink()
    editor, viewer = _auth(keys["editor"]), _auth(keys["viewer"])
    body = {"inputs": {"title": "edited"}, "from_nodes": ["summary"]}

    plan = api.post(f"/api/v1/runs/{source.id}/replay/plan", json=body, headers=editor)
    assert plan.status_code == 200, plan.text
    assert plan.json()["rerun"] == {"summary": "named", "label": "changed input title"}
    assert set(plan.json()["reused"]) == {"fetch", "clean", "features"}
    assert plan.json()["spec"]["nodes"][0]["name"] == "fetch"
    assert executions(ledger) == {}

    # the same role as starting a run: a viewer may not
    refused = api.post(f"/api/v1/runs/{source.id}/replay", json=body, headers=viewer)
    assert refused.status_code == 403 and "editor" in refused.json()["detail"]
    bad = api.post(
        f"/api/v1/runs/{source.id}/replay", json={"from_nodes": ["nope"]}, headers=editor
    )
    assert bad.status_code == 422 and "'nope'" in bad.json()["detail"]

    made = api.post(f"/api/v1/runs/{source.id}/replay", json=body, headers=editor)
    assert made.status_code == 201, made.text
    assert made.json()["replay_of"] == source.id and made.json()["trigger"] == "api"
    assert made.headers["location"] == f"/api/v1/runs/{made.json()['id']}"
    replay = client.get_run(made.json()["id"]).wait(60)
    assert replay.status == "succeeded", replay.error
    assert executions(ledger) == {"summary": 1, "label": 1}
    assert replay.output("label") == "EDITED"
    detail = api.get(f"/api/v1/runs/{replay.id}", headers=viewer).json()
    assert detail["replay_of"] == source.id
    assert api.get(f"/api/v1/runs/{source.id}", headers=viewer).json()["replay_of"] is None


def test_the_remote_sdk_replays_through_the_api(
    served: str,  # noqa: F811
    client: rt.Client,
    keys: dict[str, str],
    ledger: Path,
) -> None:
    source = flows.pipeline(fixed=True).run(rows=4, title="remote").wait(60)
    assert source.status == "succeeded", source.error
    remote = rt.connect(api_url=served, api_key=keys["editor"])
    try:
        handle = remote.get_run(source.id)
        plan = handle.replay_plan(overrides={"clean": {"rows": "overridden"}})
        assert plan.rerun["clean"] == "override"
        assert "<svg" in plan._repr_html_()
        replay = handle.replay(["label"])
        assert replay.replay_of == source.id
        assert replay.wait(60).status == "succeeded"
        assert replay.output("label") == "REMOTE"
    finally:
        remote.close()


CLI_GRAPHS = textwrap.dedent(
    """
    import runtime as rt

    g = rt.Graph("cli_replay")

    @g.node
    def numbers(n: int) -> list:
        return list(range(n))

    @g.node
    def total(numbers: list, scale: float = 1.0) -> float:
        return sum(numbers) * scale
    """
)


def test_plait_replay_dry_run_then_replay(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(CLI_GRAPHS)
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "home")}

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = plait("run", "flows.py:g", "-i", "n=4")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[1]
    (tmp_path / "numbers.json").write_text(json.dumps([10, 20]))

    dry = plait("replay", run_id, "--override", "numbers=@numbers.json", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "re-run  numbers  (override)" in dry.stdout
    assert "re-run  total  (downstream of numbers)" in dry.stdout
    assert "0 reused, 2 re-run" in dry.stdout
    assert "a replay of" not in dry.stdout  # nothing started

    done = plait("replay", run_id, "--override", "numbers=@numbers.json", "-i", "scale=0.5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "total = 15.0"
    assert "(a replay of " + run_id + ")" in done.stdout

    named = plait("replay", run_id, "--from", "total", "--dry-run")
    assert "reuse   numbers" in named.stdout and "re-run  total  (named)" in named.stdout
    bad = plait("replay", run_id, "--from", "ghost")
    assert bad.returncode == 1 and "'ghost'" in bad.stderr
    missing = plait("replay", run_id, "--override", "numbers=@nowhere.json")
    assert missing.returncode == 1 and "cannot read nowhere.json" in missing.stderr
