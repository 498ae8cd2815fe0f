"""The studio as users run it: ``plait studio`` (Reflex production mode, one port) in its own
process group, on a store of the test's own; Chromium through Playwright.

The frontend build is cached between runs: each server kind builds into a directory of its
own under ``~/.cache/plait/studio-tests`` (``REFLEX_WEB_WORKDIR``), and bun (the one the
locked environment ships) keeps the npm packages in its cache, so a start on a new port costs
one quick rebuild (about 5 s), not a download; a start on the port of the last build, none.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

import runtime as rt
from tests.browser import chromium
from tests.faults.servers import free_port

ROOT = Path(__file__).parent.parent.parent
WEB_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "plait" / "studio-tests"
)


@dataclass
class Studio:
    """A running ``plait studio`` and how to reach its store."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen
    log: Path
    clients: list[rt.Client] = field(default_factory=list)

    def connect(self) -> rt.Client:
        """A client on the studio's store (publishes workflows, answers from "a notebook")."""
        c = rt.connect(
            self.env["PLAIT_DATABASE_URL"],
            home=Path(self.env["PLAIT_HOME"]),
            redis_url=self.env.get("PLAIT_REDIS_URL"),
            queue=self.env.get("PLAIT_QUEUE", "plait"),
            secret_key=self.env.get("PLAIT_SECRET_KEY"),
            signing_key=self.env.get("PLAIT_SIGNING_KEY"),
        )
        self.clients.append(c)
        return c

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the REST API; returns (status, decoded JSON)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def api_as(self, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the REST API with an API key."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def start_run(self, workflow: str, inputs: dict[str, Any] | None = None) -> str:
        """Start a run through the studio, so the studio process executes it (embedded)."""
        status, body = self.api(
            "POST",
            f"/api/v1/workflows/{urllib.request.quote(workflow)}/runs",
            {"inputs": inputs or {}},
        )
        assert status == 201, body
        return body["id"]


def start_studio(
    env_extra: dict[str, str],
    home: Path,
    web_dir: str | None,
    *,
    port: int | None = None,
    unset: Sequence[str] = (),
) -> Studio:
    """Start ``plait studio`` on ``port`` (a free one by default). ``web_dir`` names its build
    directory under ``WEB_CACHE``; None leaves it to ``plait studio`` (under the cache of
    ``HOME``). ``unset`` names variables of this process it must not see."""
    port = port or free_port()
    env = {
        **os.environ,
        "PLAIT_HOME": str(home),
        "PLAIT_DATABASE_URL": f"sqlite:///{home / 'plait.db'}",
        "PYTHONPATH": str(ROOT),
        **env_extra,
    }
    if web_dir is not None:
        env["REFLEX_WEB_WORKDIR"] = str(WEB_CACHE / web_dir)
    for var in unset:
        env.pop(var, None)
    for var in (
        "PLAIT_REDIS_URL",
        "PLAIT_QUEUE",
        "PLAIT_SECRET_KEY",
        "PLAIT_SIGNING_KEY",
        "PLAIT_VERIFY_KEYS",
        "REFLEX_REDIS_URL",
    ):
        if var not in env_extra:
            env.pop(var, None)
    log = home / "studio.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "studio", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        try:
            urllib.request.urlopen(url + "/ping", timeout=2)
            break
        except OSError:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "plait studio did not start:\n" + log.read_text()
            time.sleep(0.2)
    return Studio(url, env, process, log)


def stop_studio(studio: Studio) -> None:
    for c in studio.clients:
        c.close()
    if studio.process.poll() is None:
        os.killpg(studio.process.pid, signal.SIGTERM)
        try:
            studio.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(studio.process.pid, signal.SIGKILL)
            studio.process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    yield context.new_page()
    context.close()
