"""The editor's document as React Flow nodes and edges (``studio.components.editor_canvas``
draws them): problems on their nodes, a test run's statuses as their colours."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from studio import theme


def flow_nodes(
    doc: Mapping[str, Any],
    errors: Mapping[str, str],
    statuses: Mapping[str, str],
    picked: Collection[str] = (),
    python: Collection[str] = (),
) -> list[dict[str, Any]]:
    """``picked``: selected as they appear (the canvas keeps its own selection of the
    nodes it already shows); ``python``: nodes that are Python code (a version defined in a
    notebook or module), marked as such."""
    out = []
    for node in doc["nodes"]:
        status = statuses.get(node["name"], "")
        classes = "plait-enode-wrap plait-kind-" + node["kind"]
        if status:
            classes += f" plait-{status}"
        if node["name"] in errors:
            classes += " plait-invalid"
        if node["name"] in python:
            classes += " plait-python-node"
        out.append(
            {
                "id": node["name"],
                "type": "plait",
                "position": {"x": node["x"], "y": node["y"]},
                "className": classes,
                "selected": node["name"] in picked,
                "data": {
                    "label": node["name"],
                    "kind": node["kind"],
                    "error": errors.get(node["name"], ""),
                    "status": status,
                    "fill": theme.status_colour(status) if status else "",
                    "python": node["name"] in python,
                },
            }
        )
    return out


def flow_edges(
    doc: Mapping[str, Any], wired: list[list[str]], statuses: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Drawn edges, then the ones only an expression makes (dashed, not selectable: remove
    the expression to remove them)."""
    out: list[dict[str, Any]] = [
        {
            "id": f"{s}->{t}",
            "source": s,
            "target": t,
            "animated": statuses.get(t) == "running",
        }
        for s, t in doc["edges"]
    ]
    out.extend(
        {
            "id": f"{s}~>{t}",
            "source": s,
            "target": t,
            "selectable": False,
            "className": "plait-wired",
            "style": {"strokeDasharray": "4 3"},
            "animated": statuses.get(t) == "running",
        }
        for s, t in wired
    )
    return out
