"""Retry continues the same run from its failure; rerun starts a new one. Side effects are
counted in files, so what ran again is plain whichever process ran it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtime as rt
from runtime.errors import RunStateError
from tests.core import retry_flows
from tests.core.retry_flows import executions

ROOT = Path(__file__).parent.parent.parent


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger"
    path.mkdir()
    return path


def _failed_run(ledger: Path, fix: Path) -> rt.Run:
    run = retry_flows.flaky.run(ledger=str(ledger), fix=str(fix)).wait(30)
    assert run.status == "failed", run.error
    assert {n: i.status for n, i in run.nodes.items()} == {
        "prepare": "succeeded",
        "fragile": "failed",
        "side": "succeeded",
        "publish": "skipped",
    }
    return run


def test_retry_continues_the_same_run_and_reuses_every_checkpoint(
    client: rt.Client, ledger: Path, tmp_path: Path
) -> None:
    fix = tmp_path / "fix"
    run = _failed_run(ledger, fix)
    fix.touch()

    again = run.retry()
    assert again.id == run.id
    assert again.wait(30).status == "succeeded", run.error
    assert run.outputs == {"publish": "published 21", "side": 40}
    # the failed node and the one it skipped ran again; nothing that succeeded did
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 2, "publish": 1}
    nodes = run.nodes
    assert (nodes["fragile"].attempts, nodes["prepare"].attempts) == (2, 1)
    assert run.error is None and run.record.ended_at is not None
    types = [e["type"] for e in run.events()]
    assert types.count("run.failed") == 1 and types[-1] == "run.succeeded"
    retried = next(e for e in run.events() if e["type"] == "run.retried")
    assert retried["data"]["restart"] == ["fragile", "publish"]
    # the fencing epoch moved on with the new pass
    assert run.record.lease_epoch == 2


def test_a_retried_node_gets_its_retries_anew_and_can_fail_again(
    client: rt.Client, ledger: Path, tmp_path: Path
) -> None:
    run = _failed_run(ledger, tmp_path / "fix")
    assert run.retry().wait(30).status == "failed"
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 2}
    assert run.nodes["fragile"].attempts == 2 and run.nodes["publish"].status == "skipped"
    # and once more, now that the fix is in
    (tmp_path / "fix").touch()
    assert run.retry().wait(30).status == "succeeded"
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 3, "publish": 1}


def test_retry_of_a_cancelled_run_opens_its_wait_again(client: rt.Client, ledger: Path) -> None:
    run = retry_flows.gated.run(ledger=str(ledger)).wait(30)
    assert run.status == "waiting"
    assert run.cancel() == "cancelled"
    assert run.nodes["approve"].status == "cancelled"

    assert run.retry().wait(30).status == "waiting"
    assert set(run.waiting) == {"approve"}
    run.resume("approve", ok=True).wait(30)
    assert run.status == "succeeded" and run.outputs == {"last": "drafted: ok"}
    assert executions(ledger) == {"first": 1, "last": 1}


def test_only_failed_or_cancelled_runs_can_be_retried(client: rt.Client, ledger: Path) -> None:
    run = retry_flows.gated.run(ledger=str(ledger)).wait(30)
    seen = client.last_seq(run.id)
    with pytest.raises(RunStateError, match="is waiting: only a failed or cancelled run"):
        run.retry()
    run.resume("approve", ok=False).wait(30)
    with pytest.raises(RunStateError, match="rerun starts a new run"):
        run.retry()
    assert run.status == "succeeded"
    assert [e["type"] for e in run.events(seen)] == [
        "node.succeeded",
        "run.queued",
        "run.running",
        "node.running",
        "node.succeeded",
        "run.succeeded",
    ]


def test_rerun_is_a_new_run_with_the_same_inputs(
    client: rt.Client, ledger: Path, tmp_path: Path
) -> None:
    run = _failed_run(ledger, tmp_path / "fix")
    (tmp_path / "fix").touch()
    fresh = run.rerun().wait(30)
    assert fresh.id != run.id and fresh.status == "succeeded"
    assert fresh.inputs == run.inputs and run.status == "failed"
    assert executions(ledger) == {"prepare": 2, "side": 2, "fragile": 2, "publish": 1}


def test_plait_retry_and_rerun(db_url: str, ledger: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "home")}

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    fix = tmp_path / "fix"
    first = plait(
        "run", "tests.core.retry_flows:flaky", "-i", f"ledger={ledger}", "-i", f"fix={fix}"
    )
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = first.stdout.split()[1]
    fix.touch()

    retried = plait("retry", run_id)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"retrying run {run_id}: fragile, publish again" in retried.stdout
    assert "publish = 'published 21'" in retried.stdout
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 2, "publish": 1}

    refused = plait("retry", run_id)
    assert refused.returncode == 1 and "is succeeded" in refused.stderr

    rerun = plait("rerun", run_id)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"(a rerun of {run_id})" in rerun.stdout
    assert executions(ledger) == {"prepare": 2, "side": 2, "fragile": 3, "publish": 2}
