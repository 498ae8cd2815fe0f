"""A studio starting next to runs whose node kills its process (a poison pill): it recovers
them at start-up, the node fails after ``max_interruptions``, the other nodes and runs finish,
and the studio itself stays up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime import client as client_module
from tests.core.test_crash import POISON
from tests.studio.conftest import start_studio, stop_studio
from tests.workers import wait_for


def test_studio_start_up_recovers_poison_pill_runs_and_stays_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "poison.py").write_text(POISON)
    effects = tmp_path / "effects.txt"
    env = {
        **os.environ,
        "PLAIT_HOME": str(home),
        "PLAIT_DATABASE_URL": f"sqlite:///{home / 'plait.db'}",
        "EFFECTS": str(effects),
    }
    env.pop("PLAIT_REDIS_URL", None)
    run_ids = []
    for _ in range(2):  # two runs, each left behind by a process its node took down
        cli = [sys.executable, "-m", "runtime.cli", "run", "poison.py:g"]
        died = subprocess.run(cli, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert died.returncode == 3, died.stderr
        run_ids.append(died.stdout.split()[1])

    studio = start_studio({"EFFECTS": str(effects)}, home, "embedded")
    try:

        def ended() -> bool:
            return all(
                studio.api("GET", f"/api/v1/runs/{r}")[1]["status"] == "failed" for r in run_ids
            )

        wait_for(ended, timeout=120, message="both recovered runs failed")
        assert studio.process.poll() is None, studio.log.read_text()  # the studio carried on
        client = studio.connect()
        for run_id in run_ids:
            run = client.get_run(run_id)
            boom = run.nodes["boom"]
            assert boom.status == "failed" and boom.attempts == 3
            assert boom.error == "interrupted 3 times: process exited with code 3"
            assert run.nodes["other"].status == "succeeded" and run.outputs["other"] == 2
        # each succeeded node ran once per run; only the poison pill was tried again
        assert sorted(effects.read_text().split()) == sorted(
            ["a:1", "other:1", "boom:1", "boom:2", "boom:3"] * 2
        )
    finally:
        stop_studio(studio)
        client_module._default = None
