"""The ``code`` node: user source run by the real engine in the sandbox process, and the
escape attempts it must stop (network, environment, files outside scratch, fork bomb,
memory, endless loop, ``os._exit``), each failing only its node with a clear reason."""

from __future__ import annotations

import os
import queue
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import runtime as rt
from runtime.errors import GraphError
from runtime.nodes.code import execute
from runtime.nodes.sandbox import CodeError


def _code(source: str, args: dict | None = None, **options: object) -> object:
    return execute("snippet", {"source": source, **options}, args or {})


def test_code_node_wires_like_a_function_and_keeps_its_output(client: rt.Client) -> None:
    g = rt.Graph("code_node")
    g.add("fetch", lambda base: {"json": [base, base * 2, base * 3]})
    g.add(
        "clean",
        rt.nodes.code(
            source=(
                "def main(fetch, scale, offset=1):\n"
                "    print('items', len(fetch['json']))\n"
                "    import sys; print('careful', file=sys.stderr)\n"
                "    total = sum(fetch['json']) * int(scale) + offset\n"
                "    return {'n': len(fetch['json']), 'total': total}"
            ),
            timeout=10,
            memory_mb=256,
        ),
    )
    spec = {n["name"]: n for n in g.spec()["nodes"]}
    assert spec["clean"]["kind"] == "code"
    assert spec["clean"]["depends_on"] == ["fetch"]
    inputs = g.spec()["inputs"]
    assert sorted(inputs) == ["base", "offset", "scale"]
    assert inputs["scale"]["required"] and not inputs["offset"]["required"]

    run = g.run(base=2, scale="10").wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("clean") == {"n": 3, "total": 121}
    logs = run.nodes["clean"].logs or ""
    assert "stdout: items 3" in logs and "stderr: careful" in logs
    docs = {d.name: d.value for d in run.documents if d.node == "clean"}
    assert docs.pop("code_run")["attempt"] == 1  # which attempt printed them
    assert docs == {"stdout": "items 3\n", "stderr": "careful\n"}


def test_bad_code_fails_its_node_naming_it_with_the_users_traceback(client: rt.Client) -> None:
    g = rt.Graph("code_bad")
    g.add("ok", lambda: 1)
    g.add("broken", rt.nodes.code(source="def main(ok):\n    x = ok\n    return x / 0\n"))
    run = g.run().wait(60)
    assert run.status == "failed"
    assert run.nodes["ok"].status == "succeeded"
    error = run.nodes["broken"].error or ""
    assert "code node 'broken'" in error
    assert 'File "<code node broken>", line 3, in main' in error
    assert "return x / 0" in error and "ZeroDivisionError" in error
    assert "sandbox_runner" not in error  # the runner's frames are not the user's


def test_source_without_main_or_not_parsing_is_refused_at_build_time() -> None:
    g = rt.Graph("code_build")
    with pytest.raises(GraphError, match=r"code node 'x': source defines no top-level def main"):
        g.add("x", rt.nodes.code(source="def helper():\n    return 1"))
    with pytest.raises(GraphError, match=r"code node 'y': source does not parse"):
        g.add("y", rt.nodes.code(source="def main(:\n"))
    with pytest.raises(GraphError, match=r"no \*args"):
        g.add("z", rt.nodes.code(source="def main(*a):\n    return a"))
    with pytest.raises(GraphError, match="timeout"):
        rt.nodes.code(source="def main(): pass", timeout=-1)


def test_a_value_that_is_not_json_is_a_clear_error() -> None:
    with pytest.raises(CodeError, match="not JSON"):
        _code("def main():\n    return object()")


def test_endless_loop_is_killed_at_its_timeout() -> None:
    with pytest.raises(CodeError, match=r"code node 'snippet': timed out after 1 s \(killed\)"):
        _code("def main():\n    while True:\n        pass", timeout=1, cpu_seconds=30)
    # a sleeping one uses no CPU: the wall clock alone stops it
    with pytest.raises(CodeError, match="timed out"):
        _code("def main():\n    import time\n    time.sleep(60)", timeout=1)


def _runners() -> list[int]:
    """Processes still running this worktree's sandbox runner."""
    from runtime.nodes import sandbox

    marker = str(sandbox._RUNNER).encode()
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                continue  # it ended while we looked
    return found


def test_fork_bomb_is_held_by_the_process_limit_and_killed_with_its_namespace() -> None:
    bomb = (
        "def main():\n"
        "    import os\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    )
    with pytest.raises(CodeError, match="timed out"):
        _code(bomb, timeout=2, max_processes=8)
    assert _runners() == []  # every fork died with it


def test_memory_hog_and_os_exit_fail_with_a_reason() -> None:
    with pytest.raises(CodeError, match="MemoryError"):
        _code("def main():\n    return len(bytearray(4 * 1024**3))", memory_mb=128)
    with pytest.raises(CodeError, match="exited with code 7 before main returned"):
        _code("def main():\n    import os\n    os._exit(7)")


@pytest.fixture
def listener() -> Iterator[tuple[int, queue.Queue]]:
    server = socket.create_server(("127.0.0.1", 0))
    accepted: queue.Queue = queue.Queue()

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed at teardown
            accepted.put(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    server.close()
    thread.join(5)


def test_no_network_even_to_localhost(listener: tuple[int, queue.Queue]) -> None:
    port, accepted = listener
    # the worker can reach it: the test's own check that the server listens
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    accepted.get(timeout=5).close()
    got = _code(
        "def main(port):\n"
        "    import socket\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
        "        return 'connected'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n",
        {"port": port},
    )
    assert got != "connected"
    assert accepted.empty()


def test_environment_is_empty_and_the_workers_is_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLAIT_TEST_SECRET_KEY", "hunter2-sandbox")
    got = _code(
        "def main(pid):\n"
        "    import os\n"
        "    try:\n"
        "        theirs = open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace')\n"
        "    except OSError as exc:\n"
        "        theirs = type(exc).__name__\n"
        "    return {'env': dict(os.environ), 'theirs': theirs}\n",
        {"pid": os.getpid()},
    )
    assert isinstance(got, dict)
    assert not any(k.startswith("PLAIT") for k in got["env"])
    assert "hunter2-sandbox" not in str(got)
    assert got["theirs"] == "PermissionError"


def test_scratch_dir_is_its_cwd_and_is_removed_and_outside_is_not_writable(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "escaped.txt"
    got = _code(
        "def main(outside):\n"
        "    import os\n"
        "    open('mine.txt', 'w').write('x')\n"
        "    try:\n"
        "        open(outside, 'w').write('escaped')\n"
        "        wrote = True\n"
        "    except OSError:\n"
        "        wrote = False\n"
        "    return {'cwd': os.getcwd(), 'files': os.listdir('.'), 'wrote': wrote}\n",
        {"outside": str(outside)},
    )
    assert isinstance(got, dict)
    assert "mine.txt" in got["files"]
    assert got["wrote"] is False and not outside.exists()
    assert Path(got["cwd"]).name.startswith("plait-code-")
    assert not Path(got["cwd"]).exists()


def test_output_is_bounded() -> None:
    with pytest.raises(CodeError) as info:
        _code("def main():\n    print('y' * 500000)\n    1/0", max_output_kb=1)
    assert "ZeroDivisionError" in str(info.value)


def test_no_namespaces_means_no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.nodes import sandbox

    sandbox.interpreter.cache_clear()
    monkeypatch.setattr(sandbox, "_NS", ["/nonexistent/unshare"])
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="not run"):
            _code("def main():\n    return 1")
    finally:
        monkeypatch.undo()
        sandbox.interpreter.cache_clear()


def test_code_node_in_a_child_process_and_a_runaway_harms_only_its_node(
    sqlite_client: rt.Client,
) -> None:
    g = rt.Graph("code_isolated")
    g.add("n", lambda: 20)
    g.add("plus", rt.nodes.code(source="def main(n):\n    return n + 1"), isolation="process")
    g.add("spin", rt.nodes.code(source="def main():\n    while True:\n        pass", timeout=1))
    run = g.run().wait(60)
    assert run.output("plus") == 21
    assert run.nodes["spin"].status == "failed"
    assert "code node 'spin': timed out after 1 s" in (run.nodes["spin"].error or "")


def test_code_runs_when_plait_is_installed_where_the_sandbox_user_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.nodes import sandbox

    private = tmp_path / "private"
    private.mkdir(mode=0o700)  # a checkout under a 0700 directory, as mktemp -d makes
    runner = private / "sandbox_runner.py"
    runner.write_text(sandbox._RUNNER.read_text())
    monkeypatch.setattr(sandbox, "_RUNNER", runner)
    assert _code("def main(x):\n    return x * 2", {"x": 21}) == 42
