"""Running untrusted Python (a ``code`` node's source) in a sandbox process.

What isolates it, all required (``SandboxUnavailable`` rather than running it unsandboxed):
- a new user, network and PID namespace (``unshare``): only a loopback device that reaches
  nothing outside, and every process it starts dies with it;
- an unprivileged uid when the worker runs as root (65534), so the process limit holds (the
  kernel does not count root's processes) and files the worker owns are not its own;
- rlimits: CPU seconds, address space, file size, number of processes, open files;
- a wall-clock timeout that kills its whole process group;
- an empty environment, ``python -I`` (no ``PYTHON*`` variables, no user site);
- a fresh scratch directory as its cwd, removed afterwards.
Not isolated: files outside the scratch directory that its uid may read (the interpreter's
standard library and the system's world-readable files).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import secrets as _secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NS = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"]
_NOBODY = 65534
_RUNNER = Path(__file__).with_name("sandbox_runner.py")


class SandboxUnavailable(RuntimeError):
    """This machine cannot isolate a code node (no user/network namespaces, no interpreter the
    sandbox user may run): the node fails instead of running unsandboxed."""


class CodeError(RuntimeError):
    """The user's code failed (its traceback), ran out of time or memory, or exited. From
    ``run``: its args are the message, the stdout and stderr kept, and the milliseconds it
    ran."""


@dataclass(frozen=True)
class Limits:
    timeout: float
    memory_mb: int
    cpu_seconds: int
    max_processes: int
    max_file_mb: int
    max_output_bytes: int


@dataclass(frozen=True)
class Outcome:
    value: Any
    stdout: str
    stderr: str
    elapsed_ms: float


def _uid() -> int | None:
    """The uid the sandbox runs as: ``None`` keeps the worker's own (it is unprivileged)."""
    return _NOBODY if os.geteuid() == 0 else None


def _demote(limits: Limits | None, uid: int | None) -> Any:
    def preexec() -> None:
        if limits is not None:
            mem = limits.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
            size = limits.max_file_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return preexec


@functools.cache
def interpreter() -> str:
    """The Python the sandbox runs: this one when the sandbox user may execute it, else the
    system's ``python3`` (standard library only). Probed once per process, namespaces
    included."""
    tried = []
    for candidate in dict.fromkeys(
        [sys.executable, shutil.which("python3") or "", "/usr/bin/python3"]
    ):
        if not candidate:
            continue
        try:
            done = subprocess.run(
                [*_NS, candidate, "-I", "-c", "pass"],
                env={},
                cwd="/",
                capture_output=True,
                timeout=30,
                preexec_fn=_demote(None, _uid()),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{candidate}: {exc}")
            continue
        if done.returncode == 0:
            return candidate
        tried.append(f"{candidate}: {done.stderr.decode(errors='replace').strip()[:200]}")
    raise SandboxUnavailable(
        "code nodes need user, network and PID namespaces (util-linux unshare) and a Python "
        "the sandbox user may run; none worked here, so the code is not run: " + "; ".join(tried)
    )


def run(node: str, source: str, args: dict[str, Any], limits: Limits) -> Outcome:
    """``main(**args)`` of ``source`` in the sandbox; its JSON return value and its output."""
    python = interpreter()
    uid = _uid()
    token = _secrets.token_hex(8)
    payload = json.dumps({"node": node, "source": source, "args": args, "token": token})
    scratch = Path(tempfile.mkdtemp(prefix="plait-code-"))
    # stdout and stderr go to files outside the scratch dir: RLIMIT_FSIZE bounds what the
    # code can write and the worker reads only their last max_output_bytes (where a failure
    # says what went wrong)
    logs = Path(tempfile.mkdtemp(prefix="plait-code-logs-"))
    try:
        if uid is not None:
            os.chown(scratch, uid, uid)
        scratch.chmod(0o700)
        with (logs / "stdout").open("w+b") as out, (logs / "stderr").open("w+b") as err:
            started = time.monotonic()
            proc = subprocess.Popen(
                # its source, not its path: the sandbox user may not reach where Plait is
                # installed (a checkout under a private directory)
                [*_NS, python, "-I", "-c", _RUNNER.read_text()],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd=scratch,
                env={},
                start_new_session=True,
                preexec_fn=_demote(limits, uid),
                close_fds=True,
            )
            timed_out = False
            try:
                assert proc.stdin is not None
                try:
                    proc.stdin.write(payload.encode())
                    proc.stdin.close()
                except BrokenPipeError:
                    pass  # it died before reading: its exit status says why
                proc.wait(timeout=limits.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill(proc)
            elapsed = round((time.monotonic() - started) * 1000, 1)
            stdout = _tail(out, limits.max_output_bytes)
            stderr = _without_wrapper_lines(_tail(err, limits.max_output_bytes))
        result = _result(scratch / f".plait-result-{token}.json")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
    where = f"code node {node!r}"
    if timed_out:
        raise CodeError(
            f"{where}: timed out after {limits.timeout:g} s (killed)", stdout, stderr, elapsed
        )
    if result is not None and "error" in result:
        raise CodeError(f"{where}: main raised:\n{result['error']}", stdout, stderr, elapsed)
    if result is not None and "value" in result:
        return Outcome(result["value"], stdout, stderr, elapsed)
    raise CodeError(f"{where}: {_death(proc.returncode, limits)}", stdout, stderr, elapsed)


def _kill(proc: subprocess.Popen) -> None:
    """Kill the namespace's init (unshare's child): the kernel then kills every process in
    its PID namespace, and it is reaped, so unshare's exit, only after the last of them
    died; nothing the code started outlives this call (or writes to the scratch directory
    after it is removed)."""
    if proc.poll() is None:
        for child in _children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # unshare itself, when its child never came
        proc.wait()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _death(code: int, limits: Limits) -> str:
    if code < 0:
        sig = signal.Signals(-code)
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            why = {
                signal.SIGXCPU: f"its CPU limit ({limits.cpu_seconds} s) was reached",
                signal.SIGKILL: "it was killed (CPU or memory limit)",
            }[sig]
        elif sig == signal.SIGXFSZ:
            why = f"it wrote more than its file size limit ({limits.max_file_mb} MB)"
        else:
            why = f"it was killed by {sig.name}"
        return f"{why}; no value returned"
    return f"the process exited with code {code} before main returned a value"


def _tail(f: Any, limit: int) -> str:
    """The last ``limit`` bytes written, with a first line saying how many came before."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(size - limit, 0))
    text = f.read(limit).decode(errors="replace")
    if size <= limit:
        return text
    return f"[... {size - limit:,} bytes of output left out]\n" + text


def _without_wrapper_lines(stderr: str) -> str:
    """``stderr`` without what ``unshare`` itself printed as it was killed (its
    ``unshare: ...`` lines come last): the user sees only what their code wrote."""
    lines = stderr.splitlines(keepends=True)
    while lines and lines[-1].startswith("unshare: "):
        lines.pop()
    return "".join(lines)


def _result(path: Path) -> dict | None:
    try:
        with path.open("rb") as f:
            data = f.read()
        value = json.loads(data)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
