"""Graphs the cache tests run. Nodes note their executions in the ledger of
``tests.core.replay_flows`` (read at call time: no part of any node's digest)."""

from __future__ import annotations

import datetime as dt

import runtime as rt
from tests.core.replay_flows import note


def load(rows: int) -> list[int]:
    note("load")
    return list(range(rows))


def total(load: list[int]) -> int:
    note("total")
    return sum(load)


def total_fixed(load: list[int]) -> int:
    note("total")
    return sum(load) + 0 * len(load)  # other code, same answer


def report(total: int) -> str:
    note("report")
    return f"total {total}"


def pipeline(*, fixed: bool = False, cache: bool | dt.timedelta = True) -> rt.Graph:
    """``load -> total -> report``; ``load`` and ``total`` cached, ``report`` not."""
    g = rt.Graph("cached_pipeline")
    g.node(load, cache=cache)
    g.node(total_fixed if fixed else total, name="total", cache=cache)
    g.node(report)
    return g
