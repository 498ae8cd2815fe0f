"""A replay is durable like any run: SIGKILL the process running it mid-node, and ``plait
recover`` continues it without running again a checkpoint it reused or one it made."""

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

    g = rt.Graph("replay_crashy")

    @g.node
    def a(x: int) -> int:
        record("a")
        return x + 1

    @g.node
    def b(a: int) -> int:
        record("b")
        if rt.current().attempt == 1 and (effects.parent / "block").exists():
            (effects.parent / "b-started").touch()
            import threading
            threading.Event().wait()   # blocks until the process is killed
        return a * 2

    @g.node
    def c(b: int) -> int:
        record("c")
        return b + 1

    if sys.argv[2] == "source":
        run = g.run(x=1)
    else:
        run = rt.get_run(sys.argv[2]).replay(["b"])
    print(run.id, flush=True)
    run.wait()
    """
)


def _await(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_killed_replay_resumes_and_never_runs_a_reused_node(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "crashy.py"
    script.write_text(CHILD)
    effects = tmp_path / "effects.txt"
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path)}
    source = subprocess.run(
        [sys.executable, str(script), str(effects), "source"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert source.returncode == 0, source.stderr
    source_id = source.stdout.split()[0]
    assert sorted(effects.read_text().split()) == ["a:1", "b:1", "c:1"]

    (tmp_path / "block").touch()
    child = subprocess.Popen(
        [sys.executable, str(script), str(effects), source_id],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    replay_id = (child.stdout.readline() if child.stdout else "").strip()
    _await(lambda: (tmp_path / "b-started").exists())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    recovered = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "recover"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert f"run {replay_id}: succeeded" in recovered.stdout
    # a ran once ever (the replay reused it); the replay's b was cut off and ran again
    assert sorted(effects.read_text().split()) == ["a:1", "b:1", "b:1", "b:2", "c:1", "c:1"]

    client = rt.connect(db_url, home=tmp_path)
    try:
        replay = client.get_run(replay_id)
        assert replay.replay_of == source_id and replay.status == "succeeded"
        assert replay.outputs == {"c": 5}
        assert replay.nodes["a"].attempts == 1 and replay.nodes["b"].attempts == 2
    finally:
        client.close()
