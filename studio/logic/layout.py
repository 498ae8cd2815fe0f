"""Graph layout for React Flow: layers by longest path, ordered to cross fewer edges, wide
layers wrapped into several columns so a 100+ node graph keeps a readable shape."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from runtime.drawing import UNTAKEN_COLOURS
from runtime.statuses import spec_deps, untaken_nodes
from studio import theme

Direction = Literal["LR", "TB"]

NODE_W, NODE_H = 172, 40
GAP_ALONG, GAP_ACROSS = 64, 18
"""Space between layers (along the flow) and between nodes of one layer (across it)."""
MAX_PER_COLUMN = 16
"""A layer with more nodes than this is wrapped into several columns."""
SWEEPS = 4


@dataclass(frozen=True)
class Placed:
    """A node's position (top-left corner) and what the view needs to draw it."""

    name: str
    kind: str
    x: float
    y: float


def layers(spec: Mapping[str, Any]) -> list[list[str]]:
    """Nodes grouped by longest path from a root, in spec (topological) order."""
    depth: dict[str, int] = {}
    for node in spec["nodes"]:
        depth[node["name"]] = 1 + max((depth[d] for d in node.get("depends_on", [])), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in spec["nodes"]:
        out[depth[node["name"]]].append(node["name"])
    return out


def order_layers(spec: Mapping[str, Any], grouped: list[list[str]]) -> list[list[str]]:
    """Reorder each layer by the mean position of its neighbours (barycentre heuristic),
    sweeping down and up a few times: fewer crossings, same layers."""
    preds: dict[str, list[str]] = {n["name"]: list(n.get("depends_on", [])) for n in spec["nodes"]}
    succs: dict[str, list[str]] = {name: [] for name in preds}
    for name, ds in preds.items():
        for d in ds:
            succs[d].append(name)
    ordered = [list(layer) for layer in grouped]
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        index = {n: i / max(len(layer), 1) for layer in ordered for i, n in enumerate(layer)}
        sequence = range(1, len(ordered)) if down else range(len(ordered) - 2, -1, -1)
        for li in sequence:
            neighbours = preds if down else succs
            layer = ordered[li]
            keys = {}
            for pos, name in enumerate(layer):
                around = [index[n] for n in neighbours[name] if n in index]
                # nodes without neighbours on that side keep their place
                keys[name] = sum(around) / len(around) if around else pos / max(len(layer), 1)
            layer.sort(key=lambda n: keys[n])
            for i, n in enumerate(layer):
                index[n] = i / max(len(layer), 1)
    return ordered


def place(spec: Mapping[str, Any], direction: Direction = "LR") -> list[Placed]:
    """Positions of every node: layers along ``direction`` (left-right or top-bottom),
    each layer centred across it; a layer wider than ``MAX_PER_COLUMN`` takes several
    columns."""
    kinds = {n["name"]: n.get("kind", "function") for n in spec["nodes"]}
    ordered = order_layers(spec, layers(spec))
    columns: list[list[str]] = []
    for layer in ordered:
        count = math.ceil(len(layer) / MAX_PER_COLUMN)
        size = math.ceil(len(layer) / count) if count else 0
        columns.extend(layer[i : i + size] for i in range(0, len(layer), size or 1))
    tallest = max((len(c) for c in columns), default=0)
    along_step = (NODE_W if direction == "LR" else NODE_H) + GAP_ALONG
    across_step = (NODE_H if direction == "LR" else NODE_W) + GAP_ACROSS
    out = []
    for ci, column in enumerate(columns):
        offset = (tallest - len(column)) * across_step / 2
        for ri, name in enumerate(column):
            along, across = ci * along_step, offset + ri * across_step
            x, y = (along, across) if direction == "LR" else (across, along)
            out.append(Placed(name, kinds[name], x, y))
    return out


PANEL_W, PANEL_H, MAX_ZOOM = 800, 460, 1.2
"""The graph panel's usual size and the view's zoom cap when fitting."""


def fitted_zoom(placed: list[Placed]) -> float:
    """The zoom at which the whole drawing fits the panel (capped like the view)."""
    width = max((p.x for p in placed), default=0) + NODE_W
    height = max((p.y for p in placed), default=0) + NODE_H
    return min(PANEL_W / width, PANEL_H / height, MAX_ZOOM)


def auto_direction(spec: Mapping[str, Any]) -> Direction:
    """The direction that shows the nodes biggest when the whole graph is fitted (a wide
    fan-out reads top-down); left-right when both fit at full size."""
    lr, tb = fitted_zoom(place(spec, "LR")), fitted_zoom(place(spec, "TB"))
    return "TB" if tb > lr * 1.05 else "LR"


STREAMING_MARK = "\u270e"
"""Ends the label of a node streaming text (a pen)."""

LABEL_MAX = 20
"""Longest label drawn whole: what a node box holds at the zoom a 30+ node graph is fitted
at; a longer name is cut in its middle (the box's title tooltip has it whole)."""
ELLIPSIS = "\u2026"


def short_label(name: str, limit: int = LABEL_MAX) -> str:
    """``extract_…_records``: the start and the end of a long name, which tell names of a
    family apart (``load_orders_2023`` / ``load_orders_2024``) where a cut end would not."""
    if len(name) <= limit:
        return name
    keep = max(limit - 1, 2)
    head = (keep + 1) // 2
    return name[:head] + ELLIPSIS + name[len(name) - (keep - head) :]


def matching(names: list[str], query: str) -> list[str]:
    """The names ``query`` finds (case-insensitive, anywhere in the name), in order; none
    for an empty query."""
    needle = query.strip().lower()
    return [n for n in names if needle in n.lower()] if needle else []


def flow_nodes(
    placed: list[Placed],
    statuses: Mapping[str, str],
    selected: str = "",
    direction: Direction = "LR",
    untaken: frozenset[str] = frozenset(),
    counts: Mapping[str, str] | None = None,
    streaming: frozenset[str] = frozenset(),
    query: str = "",
) -> list[dict[str, Any]]:
    """React Flow node objects, coloured by status; the class names carry the status
    (``plait-<status>``) for styling and for tests, and ``plait-untaken`` for a node on an
    untaken branch path (``untaken``: greyed, dashed). ``counts`` labels nodes that stand for
    many (a map node: ``squares 312/1000``); ``streaming`` nodes (an LLM node's text coming
    in) are marked ``plait-streaming`` and their label ends with a pen. A search ``query``
    marks the nodes it finds ``plait-match`` and dims the others (``plait-dim``). A long
    name is shortened in its middle; the node's ``title`` (a tooltip) has it whole."""
    counts = counts or {}
    found = set(matching([p.name for p in placed], query))
    source, target = ("right", "left") if direction == "LR" else ("bottom", "top")
    out = []
    for p in placed:
        status = statuses.get(p.name, "pending")
        classes = f"plait-node plait-{status} plait-kind-{p.kind}"
        style = {"background": theme.status_colour(status)}
        if p.name in untaken:
            classes += " plait-untaken"
            style = {"background": UNTAKEN_COLOURS["fill"], "color": UNTAKEN_COLOURS["text"]}
        if p.name == selected:
            classes += " plait-selected"
        if query.strip():
            classes += " plait-match" if p.name in found else " plait-dim"
        full = f"{p.name} {counts[p.name]}" if p.name in counts else p.name
        short = short_label(p.name)
        text = f"{short} {counts[p.name]}" if p.name in counts else short
        if p.name in streaming:
            classes += " plait-streaming"
            text += " " + STREAMING_MARK
        out.append(
            {
                "id": p.name,
                "position": {"x": p.x, "y": p.y},
                "data": {"label": text},
                "className": classes,
                # React Flow spreads these on the node's element: the tooltip and the
                # name a screen reader says, both whole
                "domAttributes": {"title": full},
                "ariaLabel": full,
                # fixed sizes: the minimap and fitView need them before anything is measured
                "width": NODE_W,
                "height": NODE_H,
                "style": style,
                "sourcePosition": source,
                "targetPosition": target,
            }
        )
    return out


def flow_edges(spec: Mapping[str, Any], statuses: Mapping[str, str]) -> list[dict[str, Any]]:
    """React Flow edges; an edge into a running node is animated, one into or out of a
    node on an untaken branch path is grey and dashed."""
    untaken = untaken_nodes(spec_deps(spec), statuses)
    out = []
    for src, dst in spec.get("edges", []):
        edge: dict[str, Any] = {
            "id": f"{src}->{dst}",
            "source": src,
            "target": dst,
            "animated": statuses.get(dst) == "running",
        }
        if dst in untaken or src in untaken:  # no value went along it
            edge["className"] = "plait-untaken"
            edge["style"] = {"stroke": UNTAKEN_COLOURS["stroke"], "strokeDasharray": "4 3"}
        out.append(edge)
    return out
