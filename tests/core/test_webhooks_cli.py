"""``plait webhooks create|list|rotate|delete`` as an operator runs them: the URL and the
secret printed once, and the secret verifying requests to the studio's ``/hooks/<id>``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

import runtime as rt
from runtime import client as client_module
from runtime.api import create_api
from runtime.triggers import signatures
from tests import hook_flows

ROOT = Path(__file__).parent.parent.parent


def test_webhooks_cli(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(home),
        "PLAIT_PUBLIC_URL": "https://plait.example.com",
    }

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", "webhooks", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    client = rt.connect(db_url, home=home)
    try:
        client.publish(hook_flows.echo)
        missing = plait("create", "nobody")
        assert missing.returncode == 1 and "nobody" in missing.stderr
        assert plait("list").stdout.strip() == "no webhooks"
        made = plait("create", "hook_echo")
        assert made.returncode == 0, made.stderr
        url, secret = made.stdout.splitlines()
        assert url.startswith("https://plait.example.com/hooks/wh_")
        assert secret.startswith("whsec_") and "shown once" in made.stderr
        endpoint_id = url.rsplit("/", 1)[1]
        listed = plait("list", "hook_echo").stdout
        assert endpoint_id in listed and secret not in listed

        body = b'{"from": "cli"}'
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": "cli-1",
            "webhook-timestamp": str(ts),
            "webhook-signature": signatures.sign(secret, "cli-1", ts, body),
        }
        with TestClient(create_api(lambda: client)) as http:
            answer = http.post(f"/hooks/{endpoint_id}", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
            rotated = plait("rotate", endpoint_id, "--overlap", "0")
            assert rotated.returncode == 0, rotated.stderr
            new_secret = rotated.stdout.strip()
            headers["webhook-id"] = "cli-2"
            headers["webhook-signature"] = signatures.sign(secret, "cli-2", ts, body)
            assert (
                http.post(f"/hooks/{endpoint_id}", content=body, headers=headers).status_code == 401
            )
            headers["webhook-signature"] = signatures.sign(new_secret, "cli-2", ts, body)
            assert (
                http.post(f"/hooks/{endpoint_id}", content=body, headers=headers).status_code == 202
            )
            assert plait("delete", endpoint_id).returncode == 0
            assert (
                http.post(f"/hooks/{endpoint_id}", content=body, headers=headers).status_code == 404
            )
        assert plait("delete", endpoint_id).returncode == 1
    finally:
        client.close()
        client_module._default = None
