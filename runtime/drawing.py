"""Draw a graph spec as SVG: layered by longest path, one box per node carrying
``data-node`` and ``data-status`` so views and tests can find it. Nodes on untaken branch
paths (``runtime.statuses.untaken_nodes``) and the edges into and out of them are greyed and
dashed, and carry ``data-untaken``."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from runtime.statuses import UNTAKEN_LABEL, spec_deps, untaken_nodes

STATUS_COLOURS: dict[str, str] = {
    "pending": "#e5e7eb",
    "running": "#93c5fd",
    "waiting": "#fcd34d",
    "sleeping": "#c4b5fd",
    "succeeded": "#86efac",
    "cached": "#a7f3d0",
    "failed": "#fca5a5",
    "skipped": "#d1d5db",
    "cancelled": "#cbd5e1",
    "retrying": "#fdba74",
    "not_needed": "#f3f4f6",
}
"""Fill colour per node status (the one palette of every Plait view)."""

UNTAKEN_COLOURS: dict[str, str] = {"fill": "#f9fafb", "stroke": "#9ca3af", "text": "#9ca3af"}
"""How every view greys a node on an untaken branch path (and the edges into it)."""

_W, _H, _GAP_X, _GAP_Y, _PAD = 150, 40, 40, 22, 10


def colour(status: str) -> str:
    return STATUS_COLOURS.get(status, STATUS_COLOURS["pending"])


def layers(spec: Mapping[str, Any]) -> list[list[str]]:
    """Nodes grouped by longest path from a root, in spec (topological) order."""
    depth: dict[str, int] = {}
    for node in spec["nodes"]:
        deps = node.get("depends_on", [])
        depth[node["name"]] = 1 + max((depth[d] for d in deps), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in spec["nodes"]:
        out[depth[node["name"]]].append(node["name"])
    return out


def positions(spec: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Top-left corner of each node's box: layers left to right."""
    pos: dict[str, tuple[float, float]] = {}
    for x, layer in enumerate(layers(spec)):
        for y, name in enumerate(layer):
            pos[name] = (_PAD + x * (_W + _GAP_X), _PAD + y * (_H + _GAP_Y))
    return pos


def render(
    spec: Mapping[str, Any],
    statuses: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    *,
    fills: Mapping[str, str] | None = None,
) -> str:
    """The SVG document; ``labels`` adds a second line per node (e.g. a duration); ``fills``
    colours nodes otherwise than by status (a replay plan's reused and re-run nodes)."""
    statuses = statuses or {}
    labels = labels or {}
    fills = fills or {}
    pos = positions(spec)
    width = max((x for x, _ in pos.values()), default=0) + _W + _PAD
    height = max((y for _, y in pos.values()), default=0) + _H + _PAD
    asks = {n["name"] for n in spec["nodes"] if "schema" in n}  # a payload someone submits
    untaken = untaken_nodes(spec_deps(spec), statuses)
    grey = UNTAKEN_COLOURS
    kinds = {n["name"]: n.get("kind", "") for n in spec["nodes"]}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plait-graph" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="system-ui, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/>'
        "</marker></defs>",
    ]
    for src, dst in spec.get("edges", []):
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        off = (
            f' stroke="{grey["stroke"]}" stroke-dasharray="4 3" data-untaken="true"'
            if dst in untaken or src in untaken  # no value went along it
            else ' stroke="#6b7280"'
        )
        parts.append(
            f'<line x1="{x1 + _W:.0f}" y1="{y1 + _H / 2:.0f}" x2="{x2:.0f}" '
            f'y2="{y2 + _H / 2:.0f}"{off} marker-end="url(#arrow)"/>'
        )
    for name, (x, y) in pos.items():
        status = statuses.get(name, "pending")
        dash = ' stroke-dasharray="4 2"' if name in asks or name in untaken else ""
        label = html.escape(name if len(name) <= 20 else name[:19] + "…")
        extra = html.escape(labels.get(name, ""))
        fill, stroke, ink, mark, shown = colour(status), "#374151", "", "", status
        if name in untaken:
            fill, stroke, ink = grey["fill"], grey["stroke"], f' fill="{grey["text"]}"'
            mark, shown = ' data-untaken="true"', UNTAKEN_LABEL
        parts.append(
            f'<g class="node" data-node="{html.escape(name)}" data-status="{status}"{mark} '
            f'data-kind="{html.escape(kinds.get(name, ""))}">'
            f"<title>{html.escape(name)} ({html.escape(kinds.get(name, ''))}): {shown}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{_W}" height="{_H}" rx="6" '
            f'fill="{fills.get(name) or fill}" stroke="{stroke}"{dash}/>'
            f'<text x="{x + _W / 2:.0f}" y="{y + (16 if extra else 24):.0f}" '
            f'text-anchor="middle"{ink}>{label}</text>'
            + (
                f'<text x="{x + _W / 2:.0f}" y="{y + 32:.0f}" text-anchor="middle" '
                f'fill="#374151" font-size="10">{extra}</text>'
                if extra
                else ""
            )
            + "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
