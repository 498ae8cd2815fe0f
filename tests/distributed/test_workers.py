"""Runs executed by worker processes, driven from this (caller) process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cloudpickle
import sqlalchemy as sa

import runtime as rt
from runtime.store import tables
from tests.distributed import flows
from tests.workers import Cluster, wait_for


def test_run_wait_resume_on_workers(dist_client: rt.Client) -> None:
    run = dist_client.start(flows.review, {"topic": "owls"})
    run.wait(30)
    assert run.status == "waiting"
    draft = run.output("draft")
    assert draft["pid"] != os.getpid()  # the caller executed nothing
    run.resume("approve", ok=True).wait(30)
    assert run.status == "succeeded", run.error
    assert run.outputs["final"]["text"] == "about owls"


def test_events_arrive_live_over_redis(dist_client: rt.Client) -> None:
    run = dist_client.start(flows.review, {"topic": "bees"})
    seen = []
    for event in run.events(stop_at_end=False, timeout=30):
        seen.append(event)
        if event["type"] == "run.waiting":
            break
    types = [e["type"] for e in seen]
    assert types[:2] == ["run.queued", "run.running"]
    assert "node.succeeded" in types and types[-1] == "run.waiting"
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))


def test_cancel_reaches_the_worker(dist_client: rt.Client, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    run = dist_client.start(flows.slow, {"marker": str(marker)})
    wait_for(marker.exists, message="node started on the worker")
    run.cancel()
    run.wait(30)
    assert run.status == "cancelled"
    assert run.nodes["forever"].status == "cancelled"


def test_plait_watch_follows_a_worker_run(dist: Cluster, dist_client: rt.Client) -> None:
    run = dist_client.start(flows.review, {"topic": "cats"})
    run.wait(30)
    run.resume("approve", ok=False)
    watched = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "watch", run.id],
        env=dist.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert watched.returncode == 0, watched.stderr
    assert "✓ draft" in watched.stdout
    assert "run succeeded" in watched.stdout
    assert "final = {'text': 'rejected'" in watched.stdout


NOTEBOOK_STYLE = textwrap.dedent(
    """
    import runtime as rt, os

    g = rt.Graph("defined_in_main")

    @g.node
    def square(n: int) -> dict:
        return {"value": n * n, "pid": os.getpid()}

    run = g.run(n=7).wait(30)
    print(run.status, run.outputs["square"]["value"], run.outputs["square"]["pid"] != os.getpid())
    """
)


def test_functions_from_main_ship_by_value(dist: Cluster, tmp_path: Path) -> None:
    script = tmp_path / "nb.py"
    script.write_text(NOTEBOOK_STYLE)
    out = subprocess.run(
        [sys.executable, str(script)], env=dist.env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["succeeded", "49", "True"]


def _replace_code(client: rt.Client, version_id: int, code: bytes) -> None:
    with client.store.write() as conn:
        conn.execute(
            sa.update(tables.workflow_version)
            .where(tables.workflow_version.c.id == version_id)
            .values(code=code)
        )


def test_tampered_or_unsigned_code_is_refused(dist_client: rt.Client, tmp_path: Path) -> None:
    version = dist_client.publish(flows.effects)
    signed = bytes(
        dist_client.store.get_version(version.id).code  # type: ignore[arg-type]
    )
    cases = {
        "tampered": signed[:-1] + bytes([signed[-1] ^ 1]),
        "unsigned": cloudpickle.dumps(flows.effects),
    }
    for label, code in cases.items():
        _replace_code(dist_client, version.id, code)  # type: ignore[arg-type]
        target = tmp_path / f"{label}.txt"
        run = dist_client.start(flows.effects, {"path": str(target)}).wait(30)
        assert run.status == "failed", label
        assert "TamperedCode" in run.error, run.error
        assert ("not signed" if label == "unsigned" else "bad signature") in run.error
        assert not target.exists(), f"{label} code was executed"
        assert run.nodes["touch"].status == "pending"
    _replace_code(dist_client, version.id, signed)  # type: ignore[arg-type]
    ok = dist_client.start(flows.effects, {"path": str(tmp_path / "ok.txt")}).wait(30)
    assert ok.status == "succeeded", ok.error
