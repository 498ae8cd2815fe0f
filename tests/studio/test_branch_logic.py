"""The run page's graph greys untaken branch paths: nodes (``plait-untaken``) and the edges
into them (dashed), from the run's events."""

from __future__ import annotations

from typing import Any

from studio.logic import layout
from studio.logic.run_page import RunPage
from tests.core.test_branches import _routed


def ev(seq: int, kind: str, node: str | None = None, **data: Any) -> dict:
    return {"run_id": "r", "seq": seq, "type": kind, "node": node, "data": data, "at": float(seq)}


def test_untaken_nodes_and_their_edges_are_greyed_and_dashed() -> None:
    g, _ = _routed()
    spec = g.spec()
    page = RunPage.create(spec, "LR")
    page.apply(
        [
            ev(1, "run.running", status="running"),
            ev(2, "node.running", "route", attempt=1),
            ev(3, "node.succeeded", "route", attempt=1, took=["big"]),
            ev(4, "node.running", "big", attempt=1),
            ev(5, "node.skipped", "small", reason="not taken", untaken=True),
            ev(6, "node.succeeded", "big", attempt=1),
            ev(7, "node.skipped", "audit", reason="on an untaken path", untaken=True),
        ]
    )
    values = page.render()
    nodes = {n["id"]: n for n in values["flow_nodes"]}
    assert "plait-untaken" in nodes["small"]["className"]
    assert "plait-untaken" in nodes["audit"]["className"]
    assert "plait-untaken" not in nodes["big"]["className"]
    assert nodes["small"]["style"]["background"] != nodes["big"]["style"]["background"]
    edges = {e["id"]: e for e in values["flow_edges"]}
    assert edges["route->small"]["style"]["strokeDasharray"]
    assert edges["small->audit"]["className"] == "plait-untaken"
    assert "style" not in edges["route->big"]
    assert edges["small->report"]["className"] == "plait-untaken"  # nothing went to report
    assert values["progress"].startswith("4 of 6 nodes done")


def test_a_node_skipped_behind_a_failure_is_not_greyed() -> None:
    g, _ = _routed()
    spec = g.spec()
    statuses = {"route": "succeeded", "big": "failed", "small": "skipped", "shout": "skipped"}
    edges = {e["id"]: e for e in layout.flow_edges(spec, statuses)}
    assert "style" not in edges["big->shout"]
    assert edges["route->small"]["className"] == "plait-untaken"
