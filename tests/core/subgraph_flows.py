"""Importable graphs with a sub-graph, for tests in other processes (workers): each node
writes the pid of the process that ran it into a ledger directory."""

from __future__ import annotations

import os
from pathlib import Path

import runtime as rt


def _mark(ledger: str, node: str) -> None:
    with (Path(ledger) / node).open("a") as f:
        f.write(f"{os.getpid()}\n")


def executions(ledger: Path | str) -> dict[str, list[int]]:
    """Node -> the pids of the processes that ran it, one per execution."""
    return {p.name: [int(x) for x in p.read_text().split()] for p in Path(ledger).iterdir()}


inner = rt.Graph("subgraph_inner")


@inner.node
def squared(x: int, ledger: str) -> int:
    _mark(ledger, "squared")
    return x * x


outer = rt.Graph("subgraph_outer")


@outer.node
def start(n: int, ledger: str) -> int:
    _mark(ledger, "start")
    return n + 1


outer.add("inner", inner, inputs={"x": "start"})


@outer.node
def finish(inner: dict, ledger: str) -> int:
    _mark(ledger, "finish")
    return inner["squared"] + 1
