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


def _element_pid(items: int, pause: float) -> int:
    time.sleep(pause)
    return os.getpid()


mapped = rt.Graph("dist_spread_map")


@mapped.node
def items(n: int) -> list[int]:
    return list(range(n))


# more at once than the driving process keeps (``node_concurrency``, 8): the rest of each
# batch is handed out to the workers
mapped.map("pids", _element_pid, over="items", concurrency=WIDTH)


def _counted_element(items: int, pause: float, counters: str) -> int:
    """Side-effect counters per element, as ``_counted``'s per node."""
    ctx = rt.current()
    log = Path(counters) / f"e_{items:02d}.log"
    with log.open("a") as f:
        f.write(f"start {os.getpid()}\n")
    time.sleep(pause)
    with log.open("a") as f:
        f.write(f"done {os.getpid()}\n")
    assert ctx.node == f"counted[{items}]"
    return os.getpid()


counted_map = rt.Graph("dist_spread_counted_map")
counted_map.add("items", items)
counted_map.map("counted", _counted_element, over="items", concurrency=WIDTH)
