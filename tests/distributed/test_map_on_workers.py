"""A map node on worker processes (Redis, Taskiq): its elements are checkpointed by the
worker that holds the run, the same rows as in-process."""

from __future__ import annotations

import runtime as rt
from tests import map_flows


def test_a_map_runs_on_a_worker(dist_client: rt.Client) -> None:
    run = dist_client.start(map_flows.collecting, {"n": 40}).wait(120)
    assert run.status == "succeeded", run.error
    assert run.output("checked") == [None if i in (2, 5) else i * 10 for i in range(40)]
    rows = dist_client.store.element_attempts(run.id, "checked")
    assert len(rows) == 40 and {r.owner for r in rows} != {dist_client.engine.owner}
    assert run.maps["checked"].text == "38/40"
