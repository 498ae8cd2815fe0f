"""The "Replay from here" form of the run page's node panel, and the replay plan drawn on the
graph (``runtime.replay``): plain functions, tested without a browser."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.replay import OVERRIDE_FILL, RERUN_FILL, REUSED_FILL
from studio.logic.layout import short_label

INPUTS_FIELD = "replay_inputs"
"""Form field: the run inputs to change, as a JSON object (empty: none)."""
OVERRIDE_FIELD = "replay_override"
"""Form field: the node's output taken as given, as JSON (empty: run the node again)."""
VERSION_FIELD = "replay_version"
"""Form field: ``latest``, ``source`` or a version hash."""


@dataclass
class PlanRow:
    """One node of a replay plan, as the panel lists it."""

    node: str
    action: str
    """``reuse`` or ``re-run``."""
    reason: str


@dataclass(frozen=True)
class ReplayArgs:
    """What a filled-in form asks ``Client.replay`` for."""

    from_nodes: list[str]
    inputs: dict[str, Any]
    overrides: dict[str, Any]
    version: str

    def kwargs(self) -> dict[str, Any]:
        return {
            "from_nodes": self.from_nodes,
            "inputs": self.inputs,
            "overrides": self.overrides,
            "version": self.version,
        }


def args_from_form(node: str, form: Mapping[str, Any]) -> tuple[ReplayArgs | None, str]:
    """The replay a form asks for from ``node``, or ``None`` and what is wrong with it. With
    an override the node's output is the value given (it does not run); without, the node
    runs again. Either way what reads it runs again."""
    inputs_text = str(form.get(INPUTS_FIELD, "") or "").strip()
    override_text = str(form.get(OVERRIDE_FIELD, "") or "").strip()
    version = str(form.get(VERSION_FIELD, "") or "latest").strip() or "latest"
    inputs: Any = {}
    if inputs_text:
        try:
            inputs = json.loads(inputs_text)
        except json.JSONDecodeError as exc:
            return None, f"inputs: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        if not isinstance(inputs, dict):
            return None, 'inputs: expected a JSON object such as {"rows": 10}'
    overrides: dict[str, Any] = {}
    if override_text:
        try:
            overrides[node] = json.loads(override_text)
        except json.JSONDecodeError as exc:
            return None, f"output of {node}: not JSON ({exc.msg} at line {exc.lineno})"
    from_nodes = [] if overrides else [node]
    return ReplayArgs(from_nodes, inputs, overrides, version), ""


def plan_rows(
    order: list[str], reused: Mapping[str, str], rerun: Mapping[str, str]
) -> list[PlanRow]:
    """The plan in the graph's order: what re-runs first, then what is reused."""
    rows = [PlanRow(n, "re-run", rerun[n]) for n in order if n in rerun]
    return rows + [PlanRow(n, "reuse", reused[n]) for n in order if n in reused]


def plan_summary(reused: Mapping[str, str], rerun: Mapping[str, str]) -> str:
    """``2 reused · 3 re-run``."""
    return f"{len(reused)} reused · {len(rerun)} re-run"


def overlay(
    flow_nodes: list[dict[str, Any]], reused: Mapping[str, str], rerun: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The graph's nodes coloured by the plan (reused green, re-run orange, overridden
    violet), each labelled with what the replay does to it (``reuse``, ``re-run``, ``given``);
    class ``plait-plan-<action>``
    for styling and tests."""
    out = []
    for node in flow_nodes:
        name = node["id"]
        if name in rerun:
            why = rerun[name]
            action = "override" if why == "override" else "rerun"
            fill = OVERRIDE_FILL if action == "override" else RERUN_FILL
            # the name must stay readable in a node's box: the reason is in the plan's table
            short = short_label(name)
            label = f"{short} · given" if action == "override" else f"{short} · re-run"
        elif name in reused:
            action, fill, label = "reused", REUSED_FILL, f"{short_label(name)} · reuse"
        else:
            out.append(node)
            continue
        out.append(
            {
                **node,
                "data": {**node.get("data", {}), "label": label},
                "className": f"{node.get('className', '')} plait-plan-{action}".strip(),
                "style": {**node.get("style", {}), "background": fill},
            }
        )
    return out
