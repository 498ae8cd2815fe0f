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


POISON = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path
    import runtime as rt

    effects = Path(os.environ["EFFECTS"])

    def record(name: str) -> None:
        with effects.open("a") as f:
            f.write(f"{name}:{rt.current().attempt}\\n")

    g = rt.Graph("poison")

    @g.node
    def a() -> int:
        record("a")
        return 1

    @g.node
    def other(a: int) -> int:
        record("other")
        return a + 1

    @g.node
    def boom(a: int) -> int:
        record("boom")
        time.sleep(0.5)  # other finishes first
        os._exit(3)  # a segfault, an OOM kill: the process is gone
    """
)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_node_that_kills_its_process_fails_after_max_interruptions(
    db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "poison.py").write_text(POISON)
    effects = tmp_path / "effects.txt"
    env = {**_env(db_url, tmp_path), "EFFECTS": str(effects)}
    first = _cli(["run", "poison.py:g"], env, tmp_path)
    assert first.returncode == 3, first.stderr
    run_id = first.stdout.split()[1]

    # boom took its process down once; from then on it runs in a child process, whose
    # death does not take the recovering process (or the rest of the run) with it
    recovered = _cli(["recover"], env, tmp_path)
    assert recovered.returncode == 0, recovered.stderr
    assert f"run {run_id}: failed" in recovered.stdout

    runs = effects.read_text().split()
    assert sorted(runs) == ["a:1", "boom:1", "boom:2", "boom:3", "other:1"]
    client = rt.connect(db_url, home=tmp_path)
    try:
        run = client.get_run(run_id)
        assert run.status == "failed"
        boom = run.nodes["boom"]
        assert boom.status == "failed" and boom.attempts == 3
        assert boom.error == "interrupted 3 times: process exited with code 3"
        assert run.nodes["other"].status == "succeeded" and run.outputs["other"] == 2
    finally:
        client.close()


BLOCKING_FLOW = textwrap.dedent(
    """
    import os
    import threading
    from pathlib import Path
    import runtime as rt

    g = rt.Graph("from_a_file")

    @g.node
    def first(x: int) -> int:
        if rt.current().attempt == 1:
            Path(os.environ["STARTED"]).touch()
            threading.Event().wait()  # until the process is killed
        return x * 2

    @g.node
    def second(first: int) -> int:
        return first + 1
    """
)


def _kill_mid_run(command: list[str], env: dict[str, str], cwd: Path, started: Path) -> None:
    child = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    _await(started.exists, 60)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


def test_a_run_of_a_file_is_recovered_from_any_directory(db_url: str, tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "flow.py").write_text(BLOCKING_FLOW)
    started = tmp_path / "started"
    env = {**_env(db_url, tmp_path), "STARTED": str(started)}
    command = [sys.executable, "-m", "runtime.cli", "run", "flow.py:g", "-i", "x=4"]
    _kill_mid_run(command, env, project, started)

    recovered = _cli(["recover"], env, elsewhere)  # flow.py is not importable from here
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert ": succeeded" in recovered.stdout
    client = rt.connect(db_url, home=tmp_path)
    try:
        (run,) = client.runs(workflow="from_a_file")
        assert run.outputs == {"second": 9}
    finally:
        client.close()


def test_a_run_whose_code_does_not_load_is_left_recoverable(db_url: str, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    # mylib's own code ships with the version (by value); a module it imports does not
    (library / "mylibhelpers.py").write_text("def plus_one(v):\n    return v + 1\n")
    flow = BLOCKING_FLOW.replace("return first + 1", "return mylibhelpers.plus_one(first)")
    (library / "mylib.py").write_text("import mylibhelpers\n" + flow)
    started = tmp_path / "started"
    env = {**_env(db_url, tmp_path), "STARTED": str(started)}
    starter = "import mylib; r = mylib.g.run(x=5); print(r.id, flush=True); r.wait()"
    _kill_mid_run(
        [sys.executable, "-c", starter], {**env, "PYTHONPATH": str(library)}, tmp_path, started
    )

    stuck = _cli(["recover"], env, tmp_path)  # mylibhelpers is not on this process's path
    assert stuck.returncode == 1
    assert "stalled: cannot load the workflow's code here: ModuleNotFoundError" in stuck.stdout
    client = rt.connect(db_url, home=tmp_path)
    try:
        (run,) = client.runs(workflow="from_a_file")
        assert run.status == "running"  # not failed: a process that can load it may go on
        assert "ModuleNotFoundError" in (run.record.error or "")
        assert run.record.lease_owner is None
        assert run.nodes["first"].status != "running"  # no node left running inside it

        fixed = _cli(["recover"], {**env, "PYTHONPATH": str(library)}, tmp_path)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert run.status == "succeeded" and run.outputs == {"second": 11}
        assert run.record.error is None
    finally:
        client.close()
