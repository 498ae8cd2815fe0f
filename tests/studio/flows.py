"""Graphs the studio tests run. Importable by the studio server and by workers (their code
travels by reference)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field

import runtime as rt

# -- a gate: a node that runs until the test opens it ---------------------------------------

gated = rt.Graph("studio_gated", description="Waits for a file, then summarises a table.")


@gated.node
def prepare(rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"n": list(range(rows)), "square": [i * i for i in range(rows)]})


@gated.node
def gate(prepare: pd.DataFrame, gate_file: str) -> int:
    """Runs until ``gate_file`` exists."""
    rt.current().log(f"pid {os.getpid()} waits for {gate_file}")
    while not Path(gate_file).exists():
        time.sleep(0.02)
    return len(prepare)


@gated.node
def summary(prepare: pd.DataFrame, gate: int) -> str:
    rt.current().save_document("squares", prepare.describe())
    return f"# Summary\n\n**{gate}** rows, total {int(prepare.square.sum())}"


# -- human input ------------------------------------------------------------------------------


class Approval(BaseModel):
    amount: int = Field(ge=1, description="how many to ship (at least 1)")
    decision: Literal["approve", "reject"] = "approve"
    note: str = ""


approval = rt.Graph("studio_approval", description="A draft, a human decision, a result.")


@approval.node
def draft(topic: str = "tea") -> dict:
    return {"topic": topic, "items": [1, 2, 3], "meta": {"source": "studio test"}}


approval.wait("review", Approval, after=["draft"], description="Approve the draft")


@approval.node
def result(draft: dict, review: Approval) -> dict:
    return {"topic": draft["topic"], "amount": review.amount, "decision": review.decision}


# -- a chart that arrives after a human answers -----------------------------------------------

charted = rt.Graph("studio_chart", description="A plotly figure, once someone says go.")
charted.wait("go", {"bars": int})


@charted.node
def chart(go: dict) -> object:
    import plotly.graph_objects as plotly

    return plotly.Figure(plotly.Bar(x=[f"b{i}" for i in range(go["bars"])], y=[1] * go["bars"]))


two_waits = rt.Graph("studio_two_waits", description="Two answers, one after the other.")
two_waits.wait("first", {"ok": bool})
two_waits.wait("second", {"ok": bool}, after=["first"])


# -- failure ----------------------------------------------------------------------------------

failing = rt.Graph("studio_failing", description="One node raises.")


@failing.node
def load(n: int = 2) -> list[int]:
    return list(range(n))


@failing.node
def explode(load: list[int]) -> int:
    rt.current().log("about to divide")
    return _divide(len(load))


def _divide(n: int) -> int:
    return n // 0


# -- typed run inputs -------------------------------------------------------------------------

typed = rt.Graph("studio typed inputs", description="Run inputs of several types.")


@typed.node
def echo(count: int, ratio: float = 0.5, label: str = "x", loud: bool = False) -> dict:
    return {"count": count, "ratio": ratio, "label": label.upper() if loud else label}


typed_lists = rt.Graph("studio typed lists", description="A run input the form takes as JSON.")


@typed_lists.node
def sizes_total(sizes: list[int]) -> int:
    return sum(sizes)


# -- big graphs -------------------------------------------------------------------------------


def wide_graph(
    name: str = "studio_wide", size: int = 300, fan: int = 10, gated: bool = False
) -> rt.Graph:
    """``size`` nodes: a root, layers of ``fan`` nodes each fed by the layer before, a sink.
    ``gated``: the root runs until the run input ``gate_file`` exists."""
    g = rt.Graph(name, description=f"{size} nodes in layers of {fan}.")
    g.add("n0", _wait_for if gated else _root)
    previous = ["n0"]
    made = 1
    while made < size - 1:
        layer = []
        for i in range(min(fan, size - 1 - made)):
            name_i = f"n{made}"
            source = previous[i % len(previous)]
            g.add(name_i, _step, inputs={"value": source})
            layer.append(name_i)
            made += 1
        previous = layer
    g.add("sink", _root, after=previous)
    return g


def chain_graph(name: str = "studio_chain", size: int = 100) -> rt.Graph:
    """``size`` nodes one after another, each pausing for the run input ``pause`` (s)."""
    g = rt.Graph(name, description=f"{size} nodes in a row.")
    g.add("c0", _root)
    for i in range(1, size):
        g.add(f"c{i}", _step, inputs={"value": f"c{i - 1}"})
    return g


def gated_chain(name: str = "studio_ticks", size: int = 100) -> rt.Graph:
    """A node that runs until the run input ``gate_file`` exists, then ``size`` nodes in a
    row, each pausing for the run input ``pause`` (s): one node finishing at a time."""
    g = rt.Graph(name, description=f"A gate, then {size} nodes in a row.")
    g.add("start", _wait_for)
    previous = "start"
    for i in range(size):
        g.add(f"t{i}", _step, inputs={"value": previous})
        previous = f"t{i}"
    return g


def _root() -> int:
    return 1


def _wait_for(gate_file: str) -> int:
    while not Path(gate_file).exists():
        time.sleep(0.005)
    return 0


def _step(value: int, pause: float = 0.0) -> int:
    if pause:
        time.sleep(pause)
    return value + 1


wide = wide_graph()
