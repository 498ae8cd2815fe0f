"""Retry on a real worker process: the same run continues from its failure there, and no
node that succeeded runs again."""

from __future__ import annotations

from pathlib import Path

import runtime as rt
from tests.core import retry_flows
from tests.core.retry_flows import executions


def test_retry_continues_a_worker_run_from_its_failure(
    dist_client: rt.Client, tmp_path: Path
) -> None:
    ledger, fix = tmp_path / "ledger", tmp_path / "fix"
    ledger.mkdir()
    run = dist_client.start(retry_flows.flaky, {"ledger": str(ledger), "fix": str(fix)})
    assert run.wait(30).status == "failed"
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 1}
    fix.touch()

    assert run.retry().wait(30).status == "succeeded", run.error
    assert run.outputs == {"publish": "published 21", "side": 40}
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 2, "publish": 1}
    assert all(a.owner != dist_client.owner for a in dist_client.store.attempts(run.id))

    fresh = run.rerun().wait(30)
    assert fresh.id != run.id and fresh.status == "succeeded"
    assert executions(ledger) == {"prepare": 2, "side": 2, "fragile": 3, "publish": 2}
