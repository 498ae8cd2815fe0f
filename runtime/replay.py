"""Replay from any node: which of a finished run's checkpoints a new run can reuse, and why the
others run again.

A replay is a new run of a version (the source's, or a later one with fixed code) that starts
with a ``succeeded`` attempt for every node nothing upstream of it changed, referencing the
source's stored output (no copy of a blob: ``Store.create_replay``). The engine then finds those
checkpoints like any other and runs the rest. What counts as a change:

- a node named in ``from_nodes``;
- a run input given a different value (every node that reads it);
- an override (the node's output is taken as given and stored as its succeeded output);
- a node whose digest (its spec entry and the code it runs, ``Graph.node_digests``) differs
  between the source's version and the replay's, or that the source has no checkpoint of;
- and everything downstream of any of these.

This module is plain planning: no store, no engine. ``Client.replay_plan`` feeds it.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import InputError

REUSED_FILL = "#86efac"
RERUN_FILL = "#fdba74"
OVERRIDE_FILL = "#c4b5fd"
"""How a plan colours its nodes on the graph (reused, re-run, overridden)."""


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay of ``source`` would do, before anything runs."""

    source: str
    """The id of the run replayed."""
    version: str
    """The version the replay runs (``WorkflowVersion.version``)."""
    version_id: int
    reused: dict[str, str]
    """Node -> why its checkpoint is reused (``unchanged``), in topological order."""
    rerun: dict[str, str]
    """Node -> why it runs again: ``named``, ``changed input x``, ``override``, ``code
    changed``, ``new node``, ``not succeeded in source``, ``downstream of X``. An overridden
    node does not execute: its given value is stored as its output."""
    spec: dict[str, Any] = field(repr=False)
    """The spec of the version the replay runs (to draw the plan on its graph)."""
    reuse_rows: dict[str, int] = field(default_factory=dict, repr=False)
    """Node -> id of the source attempt reused."""

    @property
    def overridden(self) -> list[str]:
        return [n for n, why in self.rerun.items() if why == "override"]

    @property
    def executed(self) -> list[str]:
        """The nodes the replay will execute (re-run, not overridden)."""
        return [n for n, why in self.rerun.items() if why != "override"]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "version": self.version,
            "version_id": self.version_id,
            "reused": self.reused,
            "rerun": self.rerun,
        }

    def text(self) -> str:
        """The plan as the CLI prints it: one line per node."""
        lines = [f"replay of {self.source} on version {self.version}:"]
        for name in (n["name"] for n in self.spec["nodes"]):
            if name in self.reused:
                lines.append(f"  reuse   {name}")
            elif name in self.rerun:
                lines.append(f"  re-run  {name}  ({self.rerun[name]})")
        lines.append(f"{len(self.reused)} reused, {len(self.rerun)} re-run")
        return "\n".join(lines)

    def svg(self) -> str:
        """The graph with the plan on it: reused green, re-run orange (the reason under the
        name), overridden violet."""
        from runtime import drawing

        statuses, labels, fills = {}, {}, {}
        for name in self.reused:
            statuses[name], labels[name], fills[name] = "succeeded", "reuse", REUSED_FILL
        for name, why in self.rerun.items():
            statuses[name], labels[name] = "pending", why
            fills[name] = OVERRIDE_FILL if why == "override" else RERUN_FILL
        return drawing.render(self.spec, statuses, labels, fills=fills)

    def _repr_html_(self) -> str:
        counts = f"{len(self.reused)} reused, {len(self.rerun)} re-run"
        return (
            f'<div class="plait-replay-plan"><div><b>Replay of {html.escape(self.source)}</b> '
            f"on version {html.escape(self.version)}: {counts}</div>{self.svg()}</div>"
        )

    def __str__(self) -> str:
        return self.text()


def plan(
    *,
    source: str,
    version: str,
    version_id: int,
    source_spec: Mapping[str, Any],
    source_digests: Mapping[str, str],
    target_spec: dict[str, Any],
    target_digests: Mapping[str, str],
    source_succeeded: Mapping[str, int],
    changed_inputs: Collection[str],
    from_nodes: Collection[str] = (),
    overrides: Collection[str] = (),
) -> ReplayPlan:
    """Decide each node of the target version: reuse the source's checkpoint, or run again
    (with the first reason that applies). ``source_succeeded``: node -> id of its succeeded
    latest attempt in the source; ``changed_inputs``: run inputs given another value."""
    names = [n["name"] for n in target_spec["nodes"]]
    known = set(names)
    for what, given in (("from_nodes", from_nodes), ("overrides", overrides)):
        unknown = sorted(set(given) - known)
        if unknown:
            raise InputError(
                f"replay of run {source}: {what} names no node of {target_spec['name']!r} "
                f"version {version}: {', '.join(map(repr, unknown))} "
                f"(nodes: {', '.join(names)})"
            )
    in_source = {n["name"] for n in source_spec["nodes"]}
    rerun: dict[str, str] = {}
    reused: dict[str, str] = {}
    for node in target_spec["nodes"]:
        name = node["name"]
        reads = [s for s in node["inputs"].values() if s not in known]
        changed = [s for s in reads if s in changed_inputs]
        upstream = next((d for d in node["depends_on"] if d in rerun), None)
        if name in overrides:
            rerun[name] = "override"
        elif name in from_nodes:
            rerun[name] = "named"
        elif changed:
            rerun[name] = f"changed input {changed[0]}"
        elif name not in in_source:
            rerun[name] = "new node"
        elif source_digests.get(name) != target_digests.get(name):
            rerun[name] = "code changed"
        elif upstream is not None:
            rerun[name] = f"downstream of {upstream}"
        elif name not in source_succeeded:
            rerun[name] = "not succeeded in source"
        else:
            reused[name] = "unchanged"
    return ReplayPlan(
        source=source,
        version=version,
        version_id=version_id,
        reused=reused,
        rerun=rerun,
        spec=target_spec,
        reuse_rows={n: source_succeeded[n] for n in reused},
    )


def parse_assignments(pairs: Collection[str], what: str) -> dict[str, str]:
    """``["k=v", ...]`` as a mapping (the CLI's ``-i`` and ``--override``); ``InputError``
    names a pair without ``=``."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{what} {pair!r}: expected NAME=VALUE")
        out[key] = value
    return out
