"""Graphs for the fault tests; every node appends ``node:attempt`` to a side-effects file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import runtime as rt


def record(effects: str, name: str) -> None:
    ctx = rt.current()
    with open(effects, "a") as f:  # one short write: appends do not interleave
        f.write(f"{ctx.run_id}:{name}:{ctx.attempt}\n")


def hold_until(path: Path) -> None:
    while not path.exists():
        time.sleep(0.02)


chain = rt.Graph("fault_chain")


@chain.node
def first(effects: str) -> int:
    record(effects, "first")
    return 1


@chain.node
def middle(first: int, effects: str, gate: str) -> int:
    """Blocks on its first attempt until ``gate`` exists, telling which process runs it."""
    record(effects, "middle")
    if rt.current().attempt == 1:
        Path(gate + ".pid").write_text(str(os.getpid()))
        hold_until(Path(gate))
    return first + 1


@chain.node
def last(middle: int, effects: str) -> int:
    record(effects, "last")
    return middle * 10


light = rt.Graph("fault_light")


@light.node
def one(effects: str) -> int:
    record(effects, "one")
    return 1


@light.node
def two(one: int, effects: str) -> int:
    record(effects, "two")
    return one + 1


@light.node
def three(two: int, effects: str) -> int:
    record(effects, "three")
    return two + 1
