"""Delayed runs on workers: with no ``plait scheduler`` running, the workers' reaper queues a
delayed run once it is due, and not before (the run holds no worker meanwhile)."""

from __future__ import annotations

import datetime as dt

import runtime as rt
from tests.distributed import flows


def test_the_reaper_starts_a_delayed_run_when_due(dist_client: rt.Client) -> None:
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    run = dist_client.start(flows.review, {"topic": "later"}, start_at=at)
    assert run.status == "scheduled"
    assert run.wait(timeout=60).status == "waiting"  # started: it reached its wait node
    record = run.record
    assert record.started_at is not None and record.started_at >= at
    assert run.nodes["draft"].status == "succeeded"
