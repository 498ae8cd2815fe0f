"""``plait schedules`` and ``plait scheduler`` as a user runs them: real processes on a real
store. Two ``plait scheduler`` processes on PostgreSQL with a schedule firing every second
start each fire time exactly once, also when the leader is killed midway."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import runtime as rt
from runtime.store import open_store, tables
from tests.conftest import _migrate

FLOW = textwrap.dedent(
    """
    import runtime as rt

    g = rt.Graph("tick")

    @g.node
    def stamp(label: str = "x") -> str:
        return label
    """
)


def _env(db_url: str, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PLAIT_DATABASE_URL": db_url,
        "PLAIT_HOME": str(home),
        "PYTHONPATH": str(home),
    }


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _await(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _publish(db_url: str, home: Path) -> None:
    (home / "tickflow.py").write_text(FLOW)
    sys.path.insert(0, str(home))
    try:
        module = importlib.import_module("tickflow")
        client = rt.connect(db_url, home=home)
        client.publish(module.g)
        client.close()
    finally:
        sys.path.remove(str(home))
        sys.modules.pop("tickflow", None)


def test_schedules_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    env = _env(url, tmp_path)
    _publish(url, tmp_path)
    berlin = ["--cron", "0 9 * * MON-FRI", "--tz", "Europe/Berlin", "-i", "label=daily"]
    made = _cli(["schedules", "create", "tick", *berlin], env, tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("schedule 1: tick at '0 9 * * MON-FRI' (Europe/Berlin); next ")
    listed = _cli(["schedules", "list"], env, tmp_path)
    assert (
        "tick" in listed.stdout and "active" in listed.stdout and "Europe/Berlin" in listed.stdout
    )
    upcoming = _cli(["schedules", "next", "1"], env, tmp_path).stdout.splitlines()
    assert len(upcoming) == 10 and all(" 09:00:00 CE" in line for line in upcoming)
    assert _cli(["schedules", "pause", "1"], env, tmp_path).stdout == "schedule 1: paused\n"
    assert "paused" in _cli(["schedules", "list"], env, tmp_path).stdout
    assert _cli(["schedules", "resume", "1"], env, tmp_path).stdout == "schedule 1: resumed\n"
    assert _cli(["schedules", "delete", "1"], env, tmp_path).stdout == "schedule 1: deleted\n"
    assert _cli(["schedules", "list"], env, tmp_path).stdout == "no schedules\n"
    gone = _cli(["schedules", "pause", "1"], env, tmp_path)
    assert gone.returncode == 1 and "no schedule with id 1" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--cron", "* * * * *"], "no workflow named 'nope'"),
        (["tick", "--cron", "0 9 * *"], "has 4 fields; expected 5"),
        (["tick", "--cron", "* * * * *", "--tz", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["tick", "--cron", "* * * * *", "-i", "colour=red"], "colour"),
        (["tick", "--cron", "* * * * *", "-i", "oops"], "input 'oops' is not key=value"),
        (["tick", "--cron", "* * * * *", "--overlap", "twice"], "overlap must be one of"),
    ],
)
def test_schedules_create_bad_input_stores_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    _publish(url, tmp_path)
    made = _cli(["schedules", "create", *args], _env(url, tmp_path), tmp_path)
    assert made.returncode == 1 and message in made.stderr, made.stderr
    store = open_store(url)
    assert store.schedules() == []
    store.dispose()


def _fires(url: str) -> list[tables.ScheduleFire]:
    store = open_store(url)
    try:
        return sorted(store.schedule_fires(1, 10_000), key=lambda f: f.fire_at)
    finally:
        store.dispose()


def test_two_scheduler_processes_start_each_fire_time_once(pg_url: str, tmp_path: Path) -> None:
    _migrate(pg_url)
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in tables.SQLModel.metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    _publish(pg_url, tmp_path)
    env = _env(pg_url, tmp_path)
    every_second = ["--cron", "* * * * * *", "--overlap", "allow", "--catchup", "10"]
    made = _cli(["schedules", "create", "tick", *every_second], env, tmp_path)
    assert made.returncode == 0, made.stderr
    command = [sys.executable, "-m", "runtime.cli", "scheduler", "--poll", "0.2"]
    procs = [
        subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        _await(lambda: len(_fires(pg_url)) >= 4)
        os.kill(procs[0].pid, signal.SIGKILL)  # maybe the leader: the other takes over
        procs[0].wait()
        seen = len(_fires(pg_url))
        _await(lambda: len(_fires(pg_url)) >= seen + 4)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
    assert procs[1].returncode == 0  # stopped cleanly on SIGTERM
    fires = _fires(pg_url)
    seconds = [f.fire_at.timestamp() for f in fires]
    # every second from the first fire to the last, each once, each with its own run
    assert seconds == [seconds[0] + i for i in range(len(seconds))]
    assert all(f.outcome == "started" and f.run_id for f in fires)
    store = open_store(pg_url)
    runs = store.list_runs(trigger="schedule", limit=10_000)
    store.dispose()
    assert sorted(r.id for r, _ in runs) == sorted(f.run_id for f in fires)  # type: ignore[misc]
    assert {r.trigger_ref for r, _ in runs} == {"schedule:1"}


def test_show_and_cancel_a_delayed_run(tmp_path: Path) -> None:
    import datetime as dt

    url = f"sqlite:///{tmp_path / 'plait.db'}"
    _publish(url, tmp_path)
    client = rt.connect(url, home=tmp_path)
    version = client.store.find_version("tick")
    at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    run_id = client.start_version(version.id, {}, trigger="sdk", start_at=at).id  # type: ignore[arg-type]
    client.close()
    env = _env(url, tmp_path)
    shown = _cli(["show", run_id], env, tmp_path)
    assert f"run {run_id}  tick  scheduled" in shown.stdout and "starts at" in shown.stdout
    cancelled = _cli(["cancel", run_id], env, tmp_path)
    assert cancelled.stdout == f"run {run_id}: cancelled\n", cancelled.stderr
