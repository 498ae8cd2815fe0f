"""The studio's "Replay from here" form and plan overlay, as plain functions."""

from __future__ import annotations

from runtime.replay import OVERRIDE_FILL, RERUN_FILL, REUSED_FILL
from studio.logic import layout
from studio.logic.replay import (
    INPUTS_FIELD,
    OVERRIDE_FIELD,
    VERSION_FIELD,
    PlanRow,
    ReplayArgs,
    args_from_form,
    overlay,
    plan_rows,
    plan_summary,
)

SPEC = {
    "name": "g",
    "nodes": [
        {"name": "fetch", "kind": "function", "inputs": {}, "depends_on": []},
        {"name": "clean", "kind": "function", "inputs": {"x": "fetch"}, "depends_on": ["fetch"]},
        {"name": "report", "kind": "function", "inputs": {"x": "clean"}, "depends_on": ["clean"]},
    ],
    "edges": [["fetch", "clean"], ["clean", "report"]],
}


def test_the_form_becomes_replay_arguments() -> None:
    args, problem = args_from_form("clean", {INPUTS_FIELD: '{"rows": 3}', OVERRIDE_FIELD: ""})
    assert problem == ""
    assert args == ReplayArgs(["clean"], {"rows": 3}, {}, "latest")
    # an override: the node's output is taken as given, and the node is not named
    args, _ = args_from_form(
        "clean", {OVERRIDE_FIELD: "[1, 2]", VERSION_FIELD: "source", INPUTS_FIELD: " "}
    )
    assert args is not None
    assert args.kwargs() == {
        "from_nodes": [],
        "inputs": {},
        "overrides": {"clean": [1, 2]},
        "version": "source",
    }


def test_bad_form_values_are_named() -> None:
    args, problem = args_from_form("clean", {INPUTS_FIELD: "{rows: 3"})
    assert args is None and problem.startswith("inputs: not JSON")
    args, problem = args_from_form("clean", {INPUTS_FIELD: "[1]"})
    assert args is None and "expected a JSON object" in problem
    args, problem = args_from_form("clean", {OVERRIDE_FIELD: "{oops"})
    assert args is None and problem.startswith("output of clean: not JSON")


def test_plan_rows_and_summary_follow_the_graph() -> None:
    reused = {"fetch": "unchanged"}
    rerun = {"clean": "named", "report": "downstream of clean"}
    assert plan_rows(["fetch", "clean", "report"], reused, rerun) == [
        PlanRow("clean", "re-run", "named"),
        PlanRow("report", "re-run", "downstream of clean"),
        PlanRow("fetch", "reuse", "unchanged"),
    ]
    assert plan_summary(reused, rerun) == "1 reused · 2 re-run"


def test_the_plan_is_drawn_on_the_graph() -> None:
    placed = layout.place(SPEC)
    statuses = {"fetch": "succeeded", "clean": "succeeded", "report": "succeeded"}
    nodes = layout.flow_nodes(placed, statuses)
    drawn = {
        n["id"]: n
        for n in overlay(nodes, {"fetch": "unchanged"}, {"clean": "override", "report": "x"})
    }
    assert "plait-plan-reused" in drawn["fetch"]["className"]
    assert drawn["fetch"]["style"]["background"] == REUSED_FILL
    assert drawn["clean"]["style"]["background"] == OVERRIDE_FILL
    assert "plait-plan-override" in drawn["clean"]["className"]
    assert drawn["report"]["style"]["background"] == RERUN_FILL
    assert drawn["report"]["data"]["label"] == "report · re-run"
    assert drawn["clean"]["data"]["label"] == "clean · given"
    # the statuses' own classes stay; the input is not changed
    assert "plait-succeeded" in drawn["report"]["className"]
    assert nodes[2]["data"]["label"] == "report"
