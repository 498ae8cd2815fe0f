"""Crash recovery: SIGKILL the process running a run mid-node, continue it elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import runtime as rt

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import runtime as rt

    effects = Path(sys.argv[1])

    def record(name: str) -> None:
        with effects.open("a") as f:
            f.write(f"{name}:{rt.current().attempt}\\n")

    g = rt.Graph("crashy")

    @g.node
    def a(x: int) -> int:
        record("a")
        return x + 1

    @g.node
    def side(a: int) -> int:
        record("side")
        return a * 100

    @g.node
    def b(a: int) -> int:
        record("b")
        if rt.current().attempt == 1:
            (effects.parent / "b-started").touch()
            import threading
            threading.Event().wait()   # blocks until the process is killed
        return a * 2

    @g.node
    def c(b: int, side: int) -> int:
        record("c")
        return b + side

    run = g.run(x=1)
    print(run.id, flush=True)
    run.wait()
    """
)


def _env(db_url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(home)}


def _await(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_killed_run_resumes_from_last_checkpoint(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "crashy.py"
    script.write_text(CHILD)
    effects = tmp_path / "effects.txt"
    env = _env(db_url, tmp_path)
    child = subprocess.Popen(
        [sys.executable, str(script), str(effects)], env=env, stdout=subprocess.PIPE, text=True
    )
    run_id = child.stdout.readline().strip()
    _await(lambda: (tmp_path / "b-started").exists())
    watcher = rt.connect(db_url, home=tmp_path)
    try:  # kill only once side's checkpoint is committed: b is then the one cut off
        _await(lambda: watcher.get_run(run_id).nodes["side"].status == "succeeded")
    finally:
        watcher.close()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    before = effects.read_text().split()
    assert sorted(before) == ["a:1", "b:1", "side:1"]

    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert f"run {run_id}: succeeded" in recovered.stdout

    after = effects.read_text().split()
    # every node before the kill ran exactly once; the interrupted one ran again as attempt 2
    assert sorted(after) == ["a:1", "b:1", "b:2", "c:1", "side:1"]

    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        assert run.status == "succeeded"
        assert run.outputs == {"c": 2 * 2 + 200}
        assert run.nodes["b"].attempts == 2
        interrupted = [e for e in run.events() if e["type"] == "node.interrupted"]
        assert [(e["node"], e["data"]["attempt"]) for e in interrupted] == [("b", 1)]
    finally:
        client.close()
