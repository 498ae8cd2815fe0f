"""Two API server processes on one PostgreSQL: the same webhook message sent to both at the
same moment starts one run, and both answer with its id (the unique constraint decides, not
a memory cache)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import runtime as rt
from runtime import client as client_module
from runtime.api_webhooks import webhooks_of
from runtime.triggers import signatures
from tests import hook_flows
from tests.conftest import _migrate, _truncate
from tests.faults.servers import free_port

ROOT = Path(__file__).parent.parent.parent
SERVE = """
import sys, uvicorn, runtime as rt
from runtime.api import create_api
client = rt.connect(sys.argv[1])
port = int(sys.argv[2])
uvicorn.run(create_api(lambda: client), host="127.0.0.1", port=port, log_level="warning")
"""


@pytest.fixture
def servers(pg_url: str, tmp_path: Path) -> Iterator[list[str]]:
    _migrate(pg_url)
    _truncate(pg_url)
    env = {**os.environ, "PLAIT_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(
            subprocess.Popen([sys.executable, "-c", SERVE, pg_url, str(port)], env=env, cwd=ROOT)
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, "an API server exited"
                try:
                    httpx.get(url + "/api/v1/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "an API server never answered"
                    time.sleep(0.05)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def test_one_message_to_two_processes_starts_one_run(
    servers: list[str], pg_url: str, tmp_path: Path
) -> None:
    client = rt.connect(pg_url, home=tmp_path)
    try:
        client.publish(hook_flows.echo)
        made = webhooks_of(client).create("hook_echo")
        for round_ in range(10):
            body = f'{{"round": {round_}}}'.encode()
            msg = f"race-{round_}"
            headers = {"content-type": "application/json"} | {
                "webhook-id": msg,
                "webhook-timestamp": str(int(time.time())),
            }
            headers["webhook-signature"] = signatures.sign(
                made.secret, msg, int(headers["webhook-timestamp"]), body
            )
            barrier = threading.Barrier(4)
            answers: list[httpx.Response] = []

            def send(
                url: str,
                body: bytes = body,
                headers: dict[str, str] = headers,
                barrier: threading.Barrier = barrier,
                answers: list[httpx.Response] = answers,
            ) -> None:
                barrier.wait()
                answers.append(httpx.post(url + made.path, content=body, headers=headers))

            threads = [threading.Thread(target=send, args=(u,)) for u in servers * 2]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            codes = sorted(a.status_code for a in answers)
            # one stores the run; the others find it (or, mid-store, are told to retry)
            assert codes.count(202) == 1 and set(codes) <= {200, 202, 409}, codes
            ids = {a.json()["run_id"] for a in answers if a.status_code in (200, 202)}
            assert len(ids) == 1
        assert len(client.runs(workflow="hook_echo", limit=100)) == 10
    finally:
        client.close()
        client_module._default = None
