"""Process isolation: node attempts in real child processes (runtime/isolation)."""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import secrets
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd
import pytest

from runtime import codecs
from runtime.errors import PlaitError, SignatureError
from runtime.isolation import (
    PICKLE_UNSIGNED,
    AttemptTimeout,
    ChildDied,
    Job,
    Outcome,
    PoolClosed,
    ProcessPool,
    ProtocolError,
    Stored,
)
from tests.core import isolation_nodes as nodes

CONTEXT = {"run_id": "r1", "node": "n", "attempt": 1}
ROOT = Path(__file__).resolve().parents[2]


def job(target: Callable[..., Any], key: str = "v1", **kwargs: Any) -> Job:
    options = {k: kwargs.pop(k) for k in ("allow_pickle", "timeout") if k in kwargs}
    return Job.of(key, target, kwargs, context=CONTEXT, **options)


class Documents(list):
    """What ``on_document`` received."""

    def __call__(self, name: str, kind: str, encoded: codecs.Encoded) -> None:
        self.append((name, kind, encoded))


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for the module's tests (a pool serves one loop)."""
    with asyncio.Runner() as r:
        yield r


@pytest.fixture(scope="module")
def pool(runner: asyncio.Runner) -> Iterator[ProcessPool]:
    """A pool shared by the tests that do not look at its children."""
    shared = runner.run(_started(ProcessPool(spares=1)))
    yield shared
    runner.run(shared.aclose())


@pytest.fixture
def fresh(runner: asyncio.Runner) -> Iterator[Callable[..., ProcessPool]]:
    """Pools of a test's own, closed after it."""
    made: list[ProcessPool] = []

    def make(**options: Any) -> ProcessPool:
        made.append(runner.run(_started(ProcessPool(**options))))
        return made[-1]

    yield make
    for p in made:
        runner.run(p.aclose())


async def _started(pool: ProcessPool) -> ProcessPool:
    await pool.ready()
    return pool


def run(runner: asyncio.Runner, pool: ProcessPool, j: Job, documents: Any = None) -> Outcome:
    return runner.run(pool.run(j, documents if documents is not None else Documents()))


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone, or going (a read while it exits: ESRCH)
        return False


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- what node code gets and gives back ----------------------------------------------------


def test_a_plain_function_runs_in_a_child(runner: asyncio.Runner, pool: ProcessPool) -> None:
    outcome = run(runner, pool, job(nodes.add, x=2, y=3))
    assert outcome.ok and (outcome.codec, outcome.data) == ("json", b"5")
    assert outcome.pid != os.getpid() and outcome.pid in pool.state().spares + tuple(
        pid for _, pid in pool.state().idle
    )


def test_an_async_function_is_awaited_with_its_context(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    outcome = run(runner, pool, job(nodes.add_later, x=1))
    assert json.loads(outcome.data or b"") == {"sum": 2, "node": "n", "key": "r1:n"}


def test_a_function_pickled_by_value_runs(runner: asyncio.Runner, pool: ProcessPool) -> None:
    offset = 10
    outcome = run(runner, pool, job(lambda v: [v, offset], v="a"))
    assert json.loads(outcome.data or b"") == ["a", 10]


@pytest.mark.parametrize("kind", ["frame", "series", "figure", "plotly", "message", "model"])
def test_outputs_are_encoded_in_the_child_with_safe_codecs(
    runner: asyncio.Runner, pool: ProcessPool, kind: str
) -> None:
    outcome = run(runner, pool, job(nodes.make, kind=kind))
    assert outcome.ok, outcome.error_message
    expected = codecs.encode(nodes.make(kind))
    assert outcome.codec == expected.codec
    value = codecs.decode(outcome.codec, outcome.data or b"")
    if kind == "frame":
        pd.testing.assert_frame_equal(value, nodes.make("frame"))
    elif kind == "series":
        pd.testing.assert_series_equal(value, nodes.make("series"))
    elif kind == "figure":
        assert isinstance(value, codecs.Picture) and value.mime == "image/svg+xml"
    elif kind == "plotly":
        assert value.data[0].y == (1, 2)
    else:
        assert value == nodes.make(kind)


def test_bytes_and_json_outputs(runner: asyncio.Runner, pool: ProcessPool) -> None:
    for value, codec in ((b"\x00raw", "bytes"), ({"a": [1, None]}, "json"), (None, "json")):
        outcome = run(runner, pool, job(nodes.identity, value=value))
        assert (outcome.codec, codecs.decode(outcome.codec or "", outcome.data or b"")) == (
            codec,
            value,
        )


def test_an_output_only_pickle_takes_comes_back_unsigned_when_allowed(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    outcome = run(runner, pool, job(nodes.make, kind="opaque", allow_pickle=True))
    assert outcome.ok and outcome.codec == PICKLE_UNSIGNED
    assert cloudpickle.loads(outcome.data).value == 7  # the test may; the engine never does

    refused = run(runner, pool, job(nodes.make, kind="opaque"))
    assert not refused.ok and refused.error_type == "CodecError" and not refused.retryable
    assert "cannot store a value of type tests.core.isolation_nodes.Opaque" in (
        refused.error_message or ""
    )

    unpicklable = run(runner, pool, job(nodes.make, kind="unpicklable", allow_pickle=True))
    assert unpicklable.error_type == "CodecError" and not unpicklable.retryable
    assert "cannot pickle a value of type _thread.lock" in (unpicklable.error_message or "")


def test_a_langchain_runnable_runs_through_its_ainvoke(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    from langchain_core.runnables import RunnableLambda

    chain: Any = RunnableLambda(lambda x: x * 2) | RunnableLambda(lambda x: {"doubled": x})
    outcome = run(runner, pool, job(chain.ainvoke, input=21))
    assert json.loads(outcome.data or b"") == {"doubled": 42}


def test_stored_inputs_are_decoded_in_the_child(runner: asyncio.Runner, pool: ProcessPool) -> None:
    key = secrets.token_bytes(32)
    frame = nodes.make("frame")
    signed = codecs.encode(nodes.Opaque(5), allow_pickle=True, key=key)
    outcome = run(
        runner,
        pool,
        job(
            lambda table, thing: [len(table), thing.value],
            table=Stored.of(codecs.encode(frame), key),
            thing=Stored.of(signed, key),
        ),
    )
    assert json.loads(outcome.data or b"") == [2, 5]

    tampered = codecs.Encoded(signed.codec, signed.data[:-1] + b"\x00")
    with pytest.raises(SignatureError, match="bad signature"):
        Stored.of(tampered, key)
    with pytest.raises(ValueError, match="a signed pickle is checked by the parent first"):
        Stored(codecs.PICKLE, signed.data)


def test_an_exception_keeps_its_type_message_and_traceback_from_user_code(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    outcome = run(runner, pool, job(nodes.fail, n=4))
    assert not outcome.ok and outcome.retryable
    assert (outcome.error_type, outcome.error_message) == ("ValueError", "bad value 4")
    text = outcome.traceback or ""
    lines = text.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert "isolation_nodes.py" in lines[1] and "in fail" in lines[1]
    assert "in _inner" in text and lines[-1] == "ValueError: bad value 4"
    assert "runtime/isolation" not in text


def test_code_that_does_not_load_in_the_child_fails_without_retry(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    # a function pickled by reference to a module the child cannot import
    call = cloudpickle.dumps((nodes.add, {})).replace(
        b"tests.core.isolation_nodes", b"tests.core.isolation_nodez"
    )
    outcome = run(runner, pool, Job("v1", call, CONTEXT))
    assert (outcome.error_type, outcome.retryable) == ("ModuleNotFoundError", False)
    assert (outcome.error_message or "").startswith(
        "cannot load the node's code or inputs: No module"
    )


def test_logs_and_logging_records_are_kept(
    runner: asyncio.Runner, capfd: pytest.CaptureFixture[str], fresh: Callable[..., ProcessPool]
) -> None:
    outcome = run(runner, fresh(), job(nodes.chatty))
    assert outcome.ok
    assert [line.split(" ", 1)[1] for line in outcome.logs] == [
        "starting",
        "WARNING tests.isolation: a warning from the node",
    ]
    # prints go where a thread-mode node's go: this process's stdout
    assert "printed by the node" in capfd.readouterr().out


def test_documents_are_sent_to_the_parent_as_they_are_saved(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    documents = Documents()
    outcome = run(runner, pool, job(nodes.save_documents), documents)
    assert json.loads(outcome.data or b"") == "notes,table,raw"
    assert [(name, kind, e.codec) for name, kind, e in documents] == [
        ("notes", "markdown", "json"),
        ("table", "table", "parquet.frame"),
        ("raw", "json", "json"),
    ]
    pd.testing.assert_frame_equal(
        codecs.decode("parquet.frame", documents[1][2].data), pd.DataFrame({"a": [1]})
    )


def test_an_async_document_sink_is_awaited_and_its_refusal_reaches_the_node(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    stored: list[str] = []

    async def keep(name: str, kind: str, encoded: codecs.Encoded) -> None:
        await asyncio.sleep(0)
        stored.append(name)

    assert run(runner, pool, job(nodes.save_refused_document), keep).data == b'"saved"'
    assert stored == ["notes"]

    def refuse_plainly(name: str, kind: str, encoded: codecs.Encoded) -> None:
        raise PlaitError("document 'notes' is too large")

    def fail_inside(name: str, kind: str, encoded: codecs.Encoded) -> None:
        raise RuntimeError("connection to postgresql://plait:hunter2@db failed")

    said = run(runner, pool, job(nodes.save_refused_document), refuse_plainly)
    assert json.loads(said.data or b"") == "refused: document 'notes' is too large"
    # the store's own error (hosts, users) stays in the parent
    said = run(runner, pool, job(nodes.save_refused_document), fail_inside)
    assert json.loads(said.data or b"") == (
        "refused: document 'notes' could not be stored (RuntimeError)"
    )


# -- stopping attempts ---------------------------------------------------------------------


def _lines(path: Path) -> list[float]:
    return [float(x) for x in path.read_text().split()] if path.exists() else []


def _assert_stopped(path: Path, stopped_at: float) -> None:
    """Neither the node nor the shell it started wrote after ``stopped_at``, and they stay
    silent for five of their 50 ms periods."""
    sub = path.with_name(path.name + ".sub")
    before = (path.read_text(), sub.read_text())
    assert max(_lines(path)) <= stopped_at and max(_lines(sub)) <= stopped_at
    time.sleep(0.25)  # proving an absence: nothing to await
    assert (path.read_text(), sub.read_text()) == before


def test_a_timeout_kills_the_child_and_its_side_effects_stop(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool], tmp_path: Path
) -> None:
    p = fresh()
    path = tmp_path / "effects"
    child = run(runner, p, job(nodes.pid)).pid  # its imports done: the timeout is the node's
    with pytest.raises(AttemptTimeout, match=r"exceeded its 0.5s timeout; its process was killed"):
        run(runner, p, job(nodes.write_forever, path=str(path), timeout=0.5))
    stopped = time.time()
    assert not alive(child)
    assert len(_lines(path)) >= 3 and _lines(path.with_name("effects.sub"))
    _assert_stopped(path, stopped)
    assert child not in p.state().spares + tuple(pid for _, pid in p.state().idle)


def test_cancelling_the_attempt_kills_the_child(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool], tmp_path: Path
) -> None:
    p = fresh()
    path = tmp_path / "effects"
    child = p.state().spares[0]

    async def cancel_when_writing() -> float:
        task = asyncio.create_task(p.run(job(nodes.write_forever, path=str(path)), Documents()))
        while len(_lines(path)) < 3 or not _lines(path.with_name("effects.sub")):
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.time()

    stopped = runner.run(cancel_when_writing())
    wait_until(lambda: not alive(child))
    _assert_stopped(path, stopped)
    assert p.state().busy == ()


@pytest.mark.parametrize(
    ("how", "message", "exitcode", "signum"),
    [
        ("exit", "process exited with code 3", 3, None),
        ("segfault", "process was killed by signal 11 (SIGSEGV)", None, 11),
        ("kill", "process was killed by signal 9 (SIGKILL)", None, 9),
    ],
)
def test_a_crash_raises_child_died_and_the_pool_carries_on(
    runner: asyncio.Runner,
    fresh: Callable[..., ProcessPool],
    how: str,
    message: str,
    exitcode: int | None,
    signum: int | None,
) -> None:
    p = fresh(spares=2)
    with pytest.raises(ChildDied) as died:
        run(runner, p, job(nodes.crash, how=how))
    assert str(died.value) == message
    assert (died.value.exitcode, died.value.signal) == (exitcode, signum)
    assert [line.split(" ", 1)[1] for line in died.value.logs] == ["about to crash"]
    after = run(runner, p, job(nodes.add, x=1))
    assert after.ok and after.data == b"2"


def test_a_crash_leaves_other_attempts_and_this_process_alone(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool]
) -> None:
    p = fresh(spares=2)

    async def both() -> tuple[Any, ...]:
        return await asyncio.gather(
            p.run(job(nodes.sleep_then, seconds=0.5, value=7), Documents()),
            p.run(job(nodes.crash, how="kill"), Documents()),
            return_exceptions=True,
        )

    survivor, crashed = runner.run(both())
    assert isinstance(crashed, ChildDied)
    assert survivor.ok and survivor.data == b"7"


def test_a_child_kills_itself_and_its_side_effects_when_its_parent_dies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "effects"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from runtime.isolation import Job, ProcessPool
        from tests.core import isolation_nodes as nodes

        async def main():
            pool = ProcessPool(spares=1)
            await pool.ready()
            print(pool.state().spares[0], flush=True)
            job = Job.of("v1", nodes.write_forever, {{"path": {str(path)!r}}},
                         context={{"run_id": "r", "node": "n", "attempt": 1}})
            await pool.run(job, print)

        asyncio.run(main())
        """
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        wait_until(lambda: len(_lines(path)) >= 3 and bool(_lines(path.with_name("effects.sub"))))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        wait_until(lambda: not alive(child))
        _assert_stopped(path, time.time())
    finally:
        worker.kill()
        worker.wait()


# -- what node code cannot reach -----------------------------------------------------------


def _memory_of(pid: int) -> bytes:
    """Every readable mapping of a process's memory."""
    chunks = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addresses, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            start, end = (int(a, 16) for a in addresses.split("-"))
            try:
                mem.seek(start)
                chunks.append(mem.read(end - start))
            except (OSError, ValueError, OverflowError):
                continue  # [vvar] and friends
    return b"".join(chunks)


def test_node_code_finds_no_key_or_credentials_in_its_environment_or_memory(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool], monkeypatch: pytest.MonkeyPatch
) -> None:
    password, key, redis_password = (secrets.token_hex(16) for _ in range(3))
    secret_env = {
        "PLAIT_SECRET_KEY": key,
        "PLAIT_DATABASE_URL": f"postgresql+psycopg://plait:{password}@db/plait",
        "DATABASE_URL": f"postgresql://plait:{password}@db/plait",
        "PGPASSWORD": password,
        "REDIS_URL": f"redis://:{redis_password}@cache:6379/0",
        "PLAIT_REDIS_URL": f"redis://:{redis_password}@cache:6379/0",
    }
    for name, value in secret_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPENAI_API_KEY", "the node's own key")
    p = fresh()
    hashes = [hashlib.sha256(v.encode()).hexdigest() for v in [*secret_env.values(), key]]
    outcome = run(runner, p, job(nodes.probe, hashes=hashes))
    found = json.loads(outcome.data or b"")

    assert not set(secret_env) & set(found["environ"])
    assert found["environ"]["OPENAI_API_KEY"] == "the node's own key"
    assert str(ROOT) in found["environ"]["PYTHONPATH"].split(os.pathsep)
    for secret in (password, key, redis_password):
        assert secret not in found["proc_environ"]
    assert found["found_in_memory"] == 0
    # neither the store, the engine, the client nor the configuration is loaded in the child
    assert not {"runtime.client", "runtime.engine", "runtime.store", "runtime.config"} & set(
        found["modules"]
    )
    # the whole address space of the (now idle) child, read from outside
    memory = _memory_of(found["pid"])
    assert len(memory) > 1_000_000 and b"isolation_nodes" in memory
    for secret in (password, key, redis_password):
        assert secret.encode() not in memory


def test_starting_a_pool_makes_this_process_non_dumpable(fresh: Callable[..., ProcessPool]) -> None:
    fresh(spares=0)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE: no same-user peeking, no core


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every process's /proc files")
def test_node_code_cannot_read_its_parents_environment_or_memory_through_proc(
    runner: asyncio.Runner, pool: ProcessPool
) -> None:
    outcome = run(runner, pool, job(nodes.read_parent))
    assert json.loads(outcome.data or b"") == {
        "environ": "PermissionError",
        "mem": "PermissionError",
    }


def test_a_forged_message_kills_the_child_and_is_never_loaded(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool]
) -> None:
    p = fresh()

    def frame(header: dict[str, Any], body: bytes = b"") -> bytes:
        raw = json.dumps(header).encode()
        return struct.pack(">II", len(raw), len(body)) + raw + body

    pickled = frame({"type": "result", "ok": True, "codec": PICKLE_UNSIGNED}, b"cos\nsystem\n")
    with pytest.raises(ProtocolError, match=r"process sent an output in codec 'pickle\.unsigned'"):
        run(runner, p, job(nodes.forge, frame=pickled))  # allow_pickle is off
    signed = frame({"type": "result", "ok": True, "codec": "pickle"}, b"PLAIT-HMAC1")
    with pytest.raises(ProtocolError, match="an output in codec 'pickle'"):
        run(runner, p, job(nodes.forge, frame=signed, allow_pickle=True))
    with pytest.raises(ProtocolError, match="a header that is not JSON"):
        run(runner, p, job(nodes.forge, frame=struct.pack(">II", 3, 0) + b"\x80()"))
    with pytest.raises(ProtocolError, match="a body of 4294967295 bytes"):
        run(runner, p, job(nodes.forge, frame=struct.pack(">II", 2, 2**32 - 1) + b"{}"))
    assert p.state().busy == ()


# -- reuse, spares, limits -----------------------------------------------------------------


def test_spares_are_started_ahead_and_replaced_when_taken(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool]
) -> None:
    p = fresh(spares=2)
    spares = p.state().spares
    assert len(spares) == 2 and all(alive(pid) for pid in spares)
    outcome = run(runner, p, job(nodes.pid))
    assert outcome.pid == spares[0] and json.loads(outcome.data or b"") == spares[0]
    after = p.state()
    assert after.idle == (("v1", spares[0]),)
    assert len(after.spares) == 2 and after.spares[0] == spares[1]  # one new, started already


def test_a_child_is_reused_for_its_key_only_up_to_its_job_limit(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool]
) -> None:
    p = fresh(max_jobs_per_child=3)
    pids = [run(runner, p, job(nodes.pid, key="v1")).pid for _ in range(3)]
    assert len(set(pids)) == 1
    other = run(runner, p, job(nodes.pid, key="v2")).pid
    assert other != pids[0]
    fourth = run(runner, p, job(nodes.pid, key="v1")).pid
    assert fourth not in (pids[0], other)  # the first child ran its three jobs and was retired
    wait_until(lambda: not alive(pids[0]))


def test_idle_children_beyond_max_idle_are_retired(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool]
) -> None:
    p = fresh(max_idle=1)
    first = run(runner, p, job(nodes.pid, key="a")).pid
    second = run(runner, p, job(nodes.pid, key="b")).pid
    assert p.state().idle == (("b", second),)
    wait_until(lambda: not alive(first))


def test_max_children_bounds_the_pool_and_jobs_wait_for_room(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool]
) -> None:
    p = fresh(spares=0, max_children=1)

    async def two() -> tuple[Outcome, Outcome]:
        return await asyncio.gather(
            p.run(job(nodes.sleep_then, seconds=0.2, value=1, key="a"), Documents()),
            p.run(job(nodes.sleep_then, seconds=0.0, value=2, key="b"), Documents()),
        )

    first, second = runner.run(two())
    assert (first.data, second.data) == (b"1", b"2") and first.pid != second.pid
    assert p.state().idle == (("b", second.pid),) and p.state().spares == ()


def test_closing_the_pool_kills_its_children(
    runner: asyncio.Runner, fresh: Callable[..., ProcessPool]
) -> None:
    p = fresh(spares=1)

    async def close_while_running() -> Any:
        task = asyncio.create_task(p.run(job(nodes.sleep_then, seconds=30, value=1), Documents()))
        while not p.state().busy:
            await asyncio.sleep(0.01)
        await p.ready()  # the spare that replaces the one taken
        busy, spare = p.state().busy[0], p.state().spares[0]
        await p.aclose()
        error = await asyncio.gather(task, return_exceptions=True)
        assert not alive(busy) and not alive(spare)
        return error[0]

    assert isinstance(runner.run(close_while_running()), PoolClosed)
    with pytest.raises(PoolClosed, match="the process pool is closed"):
        run(runner, p, job(nodes.pid))


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": ""}, "Job.key must be a non-empty string"),
        ({"call": "code"}, "Job.call must be bytes"),
        (
            {"context": {"run_id": "r", "node": "n"}},
            r"Job.context\['attempt'\] must be an integer, not None",
        ),
        (
            {"context": {**CONTEXT, "token": "x"}},
            "unknown key.* token; known: attempt, node, run_id",
        ),
        ({"timeout": 0}, "Job.timeout must be a positive number of seconds, not 0"),
        ({"timeout": float("inf")}, "Job.timeout must be a positive number"),
    ],
)
def test_a_bad_job_is_refused_with_what_is_wrong(change: dict[str, Any], message: str) -> None:
    fields = {"key": "v1", "call": b"", "context": CONTEXT, "timeout": None, **change}
    with pytest.raises(ValueError, match=message):
        Job(**fields)


def test_bad_pool_options_are_refused() -> None:
    with pytest.raises(ValueError, match=r"ProcessPool\(spares=...\) must be an integer >= 0"):
        ProcessPool(spares=-1)
    with pytest.raises(ValueError, match=r"max_children=...\) must be an integer >= 1, not 0"):
        ProcessPool(max_children=0)
    with pytest.raises(ValueError, match="sequence of module names, not a string"):
        ProcessPool(preload="pandas")


def test_a_child_that_cannot_start_says_so(
    runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = ProcessPool(spares=0, preload=["no_such_module_here"])
    try:
        with pytest.raises(ChildDied, match="process exited with code 1 while starting"):
            run(runner, p, job(nodes.pid))
    finally:
        runner.run(p.aclose())
