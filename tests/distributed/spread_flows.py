"""Wide fan-outs for the spread tests (importable by workers: they travel by reference)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import runtime as rt

WIDTH = 40


def _leaf(seed: int, pause: float) -> int:
    time.sleep(pause)
    return os.getpid()


pids = rt.Graph("dist_spread_pids")


@pids.node
def seed(n: int) -> int:
    return n


for _i in range(WIDTH):
    pids.add(f"leaf_{_i:02d}", _leaf)


def _counted(seed: int, pause: float, counters: str) -> int:
    """Side-effect counters: one ``start`` line when the code begins, one ``done`` line
    when it has run to its end (so a succeeded attempt executed twice shows two)."""
    ctx = rt.current()
    log = Path(counters) / f"{ctx.node}.log"
    with log.open("a") as f:
        f.write(f"start {os.getpid()}\n")
    time.sleep(pause)
    with log.open("a") as f:
        f.write(f"done {os.getpid()}\n")
    return os.getpid()


counted = rt.Graph("dist_spread_counted")


@counted.node
def origin(n: int) -> int:
    return n


for _i in range(WIDTH):
    counted.add(f"c_{_i:02d}", _counted, inputs={"seed": "origin"})


def _flaky(origin: int, counters: str) -> str:
    """Fails its first attempt, succeeds the next; leaves a document and a log line."""
    ctx = rt.current()
    log = Path(counters) / f"{ctx.node}.log"
    with log.open("a") as f:
        f.write(f"{ctx.attempt} {os.getpid()}\n")
    ctx.log(f"attempt {ctx.attempt} of {ctx.node}")
    if ctx.attempt == 1:
        raise RuntimeError(f"{ctx.node} fails once")
    ctx.save_document("note", {"node": ctx.node})
    return ctx.node


flaky = rt.Graph("dist_spread_flaky")
flaky.add("origin", origin)
for _i in range(12):
    flaky.add(f"f_{_i:02d}", _flaky, retries=1, backoff=0.2)
