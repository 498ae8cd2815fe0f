"""Schedules and delayed runs in a deployment: a ``plait scheduler`` process (public keys
only, like the workers) fires a schedule whose runs the workers execute; with no scheduler
running, the workers' reaper queues a delayed run once it is due, and not before."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys

import runtime as rt
from runtime import schedules
from tests.distributed import flows
from tests.workers import ROOT, Cluster, wait_for


def test_the_reaper_starts_a_delayed_run_when_due(dist_client: rt.Client) -> None:
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    run = dist_client.start(flows.review, {"topic": "later"}, start_at=at)
    assert run.status == "scheduled"
    assert run.wait(timeout=60).status == "waiting"  # started: it reached its wait node
    record = run.record
    assert record.started_at is not None and record.started_at >= at
    assert run.nodes["draft"].status == "succeeded"


def test_a_scheduler_process_fires_runs_that_workers_execute(
    dist: Cluster, dist_client: rt.Client
) -> None:
    dist_client.publish(flows.review)
    schedule, _ = schedules.create(
        dist_client, "dist_review", "* * * * * *", inputs={"topic": "cron"}, overlap="allow"
    )
    log = dist.home / "scheduler.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "scheduler", "--poll", "0.2"],
        env=dist.worker_env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: len(dist_client.runs(trigger="schedule")) >= 2, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()
    runs = dist_client.runs(trigger="schedule")
    for run in runs:
        assert run.wait(timeout=60).status == "waiting", log.read_text()
        assert run.record.trigger_ref == f"schedule:{schedule.id}"
        assert run.nodes["draft"].status == "succeeded"  # a worker ran it
