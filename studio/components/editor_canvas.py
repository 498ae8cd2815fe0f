"""The editor's canvas: React Flow with the editing wired in, as one small React component
(``PlaitEditorCanvas``, defined in the page's JavaScript).

The document lives on the server; the canvas keeps its own copy of positions and selection
so that dragging stays local (no round trip per mouse move) and reports only what was done:
a drag's end, a new edge, a drop of a palette kind, the selection, a shortcut key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import reflex as rx
from reflex.vars.base import Var

from studio.components.flow import PACKAGE

KIND_ATTRIBUTE = "data-plait-kind"
"""A palette entry carries its kind in this attribute; dragging it onto the canvas adds a
node of that kind."""

SHORTCUTS: list[tuple[str, str]] = [
    ("drag a palette entry", "add a node (or click it)"),
    ("drag from a node's right handle", "connect it to another node"),
    ("click / shift+click", "select / add to the selection"),
    ("shift+drag", "select with a box"),
    ("Delete or Backspace", "delete the selection"),
    ("Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y", "undo / redo"),
    ("Ctrl+C / Ctrl+V", "copy / paste the selected nodes"),
    ("Ctrl+A", "select everything"),
    ("L", "auto-layout"),
    ("F", "zoom to fit"),
]

_CODE = (Path(__file__).parent / "editor_canvas.js").read_text()
"""The component's JavaScript, kept in its own file so it reads (and diffs) as JavaScript."""


def _positions(moved: Var[list[dict[str, Any]]]) -> tuple[Var[list[dict[str, Any]]]]:
    return (moved,)


def _pair(source: Var[str], target: Var[str]) -> tuple[Var[str], Var[str]]:
    return (source, target)


def _dropped(
    kind: Var[str], x: Var[float], y: Var[float]
) -> tuple[Var[str], Var[float], Var[float]]:
    return (kind, x, y)


def _selection(
    nodes: Var[list[str]], edges: Var[list[str]]
) -> tuple[Var[list[str]], Var[list[str]]]:
    return (nodes, edges)


def _combo(combo: Var[str]) -> tuple[Var[str]]:
    return (combo,)


class EditorCanvas(rx.Component):
    tag = "PlaitEditorCanvas"

    nodes: Var[list[dict[str, Any]]]
    edges: Var[list[dict[str, Any]]]
    fit: Var[int]
    """Zooms to fit whenever it changes."""
    focus: Var[str]
    """``node#n``: centres and selects ``node`` whenever it changes."""
    read_only: Var[bool]
    """Nothing moves, connects or drops (the server refuses such edits too)."""
    on_moved: rx.EventHandler[_positions]
    on_connect_nodes: rx.EventHandler[_pair]
    on_drop_kind: rx.EventHandler[_dropped]
    on_select_items: rx.EventHandler[_selection]
    on_key: rx.EventHandler[_combo]

    def add_imports(self) -> dict[str, Any]:
        return {
            PACKAGE: [
                "ReactFlow",
                "ReactFlowProvider",
                "useReactFlow",
                "Handle",
                "Position",
                "applyNodeChanges",
                "applyEdgeChanges",
                "Background",
                "Controls",
                "MiniMap",
            ],
            "react": ["useState", "useEffect", "useCallback", "useRef", "memo"],
            "": ["@xyflow/react/dist/style.css"],
        }

    def add_custom_code(self) -> list[str]:
        return [_CODE]


editor_canvas = EditorCanvas.create
