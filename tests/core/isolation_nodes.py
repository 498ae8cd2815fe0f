"""Node functions that tests/core/test_isolation.py runs in child processes. They travel by
reference, so the child imports this module: it imports nothing of Plait but ``runtime``."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pydantic

import runtime as rt

log = logging.getLogger("tests.isolation")


class Point(pydantic.BaseModel):
    x: int
    y: int


class Opaque:
    """No safe codec takes it: only pickle does."""

    def __init__(self, value: int) -> None:
        self.value = value


def add(x: int, y: int = 1) -> int:
    return x + y


async def add_later(x: int) -> dict[str, Any]:
    await asyncio.sleep(0.01)
    ctx = rt.current()
    return {"sum": x + 1, "node": ctx.node, "key": ctx.idempotency_key}


def identity(value: Any) -> Any:
    return value


def make(kind: str) -> Any:
    if kind == "frame":
        import pandas as pd

        return pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=pd.Index([3, 4], name="i"))
    if kind == "series":
        import pandas as pd

        return pd.Series([1.5, 2.5], name="s")
    if kind == "figure":
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot

        figure, axes = pyplot.subplots()
        axes.plot([1, 2, 3])
        return figure
    if kind == "plotly":
        import plotly.graph_objects as go

        return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    if kind == "message":
        from langchain_core.messages import AIMessage

        return AIMessage(content="hello")
    if kind == "model":
        return Point(x=1, y=2)
    if kind == "opaque":
        return Opaque(7)
    if kind == "unpicklable":
        return threading.Lock()
    raise ValueError(kind)


def _inner(n: int) -> None:
    raise ValueError(f"bad value {n}")


def fail(n: int) -> None:
    _inner(n)


def chatty() -> str:
    rt.current().log("starting")
    log.warning("a warning from the node")
    print("printed by the node")
    return "done"


def save_documents() -> str:
    import pandas as pd

    ctx = rt.current()
    ctx.save_document("notes", "# Notes\nsome *markdown*")
    ctx.save_document("table", pd.DataFrame({"a": [1]}))
    ctx.save_document("raw", {"k": [1, 2]}, kind="json")
    return ",".join(ctx.documents)


def save_refused_document() -> str:
    try:
        rt.current().save_document("notes", "text")
    except rt.PlaitError as exc:
        return f"refused: {exc}"
    return "saved"


def write_forever(path: str) -> None:
    """A side effect that goes on until the process dies: this process and a shell it
    started each write a line every 50 ms."""
    subprocess.Popen(
        ["sh", "-c", 'while true; do date +%s.%N >> "$0"; sleep 0.05; done', path + ".sub"]
    )
    with open(path, "a") as f:
        while True:
            f.write(f"{time.time()}\n")
            f.flush()
            time.sleep(0.05)


def crash(how: str) -> None:
    rt.current().log("about to crash")
    if how == "exit":
        os._exit(3)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise ValueError(how)


def sleep_then(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value


def pid() -> int:
    return os.getpid()


def probe(hashes: list[str]) -> dict[str, Any]:
    """What node code can find of its parent: environment, /proc, every string in memory."""
    with open("/proc/self/environ", "rb") as f:
        proc_environ = f.read().decode(errors="replace")
    wanted = set(hashes)
    found = 0
    for obj in gc.get_objects():
        for ref in [obj, *gc.get_referents(obj)]:
            if isinstance(ref, str):
                ref = ref.encode(errors="replace")
            if isinstance(ref, bytes) and hashlib.sha256(ref).hexdigest() in wanted:
                found += 1
    return {
        "environ": dict(os.environ),
        "proc_environ": proc_environ,
        "found_in_memory": found,
        "modules": sorted(m for m in sys.modules if m.startswith("runtime")),
        "pid": os.getpid(),
    }


def forge(frame: bytes) -> str:
    """Node code that writes to the protocol pipe itself (a hostile node)."""
    os.write(int(sys.argv[2]), frame)
    time.sleep(60)
    return "unreachable"


def read_parent() -> dict[str, str]:
    """Node code looking into its parent through /proc."""
    found = {}
    for what in ("environ", "mem"):
        try:
            with open(f"/proc/{os.getppid()}/{what}", "rb") as f:
                f.read(1)
            found[what] = "read"
        except OSError as exc:
            found[what] = type(exc).__name__
    return found


def tick(ledger: str) -> int:
    """A side effect every 20 ms, for much longer than the node's timeout (the engine's
    fencing tests)."""
    for _ in range(100):
        with open(ledger, "a") as f:
            f.write(f"{rt.current().attempt}\n")
        time.sleep(0.02)
    return 1


def exit_three() -> int:
    os._exit(3)


def times_ten(work: int) -> int:
    return work * 10
