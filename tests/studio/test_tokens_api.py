"""Streamed LLM text through the REST API: ``GET /runs/{id}/events?tokens=true`` streams
the stored events and the live ``node.tokens`` ones (seq 0, never stored, the ``after``
cursor untouched), so the remote SDK's ``run.events(tokens=True)`` and ``plait watch
--tokens`` against a server work as they do on a database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import runtime as rt
from runtime.auth.apikeys import ApiKeys
from runtime.auth.users import Users
from tests.studio.test_access import served  # noqa: F401  (a fixture)
from tests.token_models import story_graph

ROOT = Path(__file__).parent.parent.parent


@pytest.fixture
def keys(client: rt.Client) -> dict[str, str]:
    Users(client.store).add("alice", "admin", "correct horse battery")
    return {"viewer": ApiKeys(client.store).create("viewer", "viewer", by="alice")[0]}


def test_the_remote_sdk_follows_tokens_live(
    served: str,  # noqa: F811
    client: rt.Client,
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    run = story_graph("api_story", tmp_path).run(topic="owls")  # executed by this process
    remote = rt.connect(api_url=served, api_key=keys["viewer"])
    try:
        handle = remote.get_run(run.id)
        live: list[str] = []
        stored: list[int] = []
        for event in handle.events(tokens=True, timeout=60):
            (tmp_path / "go").touch()  # the stream is open: the server listens
            if event["type"] != "node.tokens":
                stored.append(event["seq"])
                continue
            assert event["seq"] == 0 and event["node"] == "answer"
            assert event["data"]["attempt"] == 1
            live.append(event["data"]["text"])
            if "Once upon" in "".join(live) and not (tmp_path / "finish").exists():
                assert handle.nodes["answer"].status == "running"  # seen before the end
                (tmp_path / "finish").touch()
        assert "".join(live) == "Once upon a time the end."
        assert handle.status == "succeeded"
        assert handle.output("answer") == "Once upon a time the end."
        # the stored events came whole and in order around the tokens
        assert stored == [e["seq"] for e in run.events()]

        async def follow_async() -> list[int]:
            return [e["seq"] async for e in handle.aevents(tokens=True)]

        assert asyncio.run(follow_async()) == stored  # ended with the run, no token left
    finally:
        remote.close()

    # history only (wait=0): NDJSON lines of the stored events after the cursor
    headers = {"authorization": f"Bearer {keys['viewer']}"}
    answer = httpx.get(
        f"{served}/api/v1/runs/{run.id}/events",
        params={"after": 2, "tokens": "true"},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [e["seq"] for e in lines] == stored[2:]
    refused = httpx.get(f"{served}/api/v1/runs/{run.id}/events?tokens=true", timeout=30)
    assert refused.status_code == 401


def test_plait_watch_tokens_against_a_server(
    served: str,  # noqa: F811
    client: rt.Client,
    keys: dict[str, str],
    tmp_path: Path,
) -> None:
    run = story_graph("cli_story", tmp_path).run(topic="owls")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    env |= {"PLAIT_API_URL": served, "PLAIT_API_KEY": keys["viewer"], "PYTHONPATH": str(ROOT)}
    watch = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "watch", run.id, "--tokens"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert watch.stdout is not None
        seen = ""
        while "answer" not in seen:  # its history printed: the stream is open
            line = watch.stdout.readline()
            assert line, seen
            seen += line
        (tmp_path / "go").touch()
        (tmp_path / "finish").touch()
        out, _ = watch.communicate(timeout=60)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, seen + out
    assert "answer » Once upon a time the end." in seen + out
