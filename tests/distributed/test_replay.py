"""Replay on a real worker process: the new run starts with the source's checkpoints and the
worker runs only the rest."""

from __future__ import annotations

from pathlib import Path

import runtime as rt
from tests.core import retry_flows
from tests.core.retry_flows import executions


def test_a_worker_replays_a_failed_run_running_only_what_did_not_succeed(
    dist_client: rt.Client, tmp_path: Path
) -> None:
    ledger, fix = tmp_path / "ledger", tmp_path / "fix"
    ledger.mkdir()
    run = dist_client.start(retry_flows.flaky, {"ledger": str(ledger), "fix": str(fix)})
    assert run.wait(30).status == "failed"
    fix.touch()

    plan = run.replay_plan()
    assert plan.reused == {"prepare": "unchanged", "side": "unchanged"}
    assert plan.rerun == {"fragile": "not succeeded in source", "publish": "downstream of fragile"}
    replay = run.replay().wait(30)
    assert replay.status == "succeeded", replay.error
    assert replay.replay_of == run.id and run.status == "failed"  # the source stays as it was
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 2, "publish": 1}
    assert replay.outputs == {"publish": "published 21", "side": 40}
    ran = [a for a in dist_client.store.attempts(replay.id) if a.reused_from is None]
    assert {a.node for a in ran} == {"fragile", "publish"}
    assert all(a.owner not in (None, dist_client.owner) for a in ran)  # the worker ran them
