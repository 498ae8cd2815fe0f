"""React Flow (``@xyflow/react``) wrapped as Reflex components: just what the studio uses.

Read-only and "controlled": nodes and edges come from state (positions from
``studio.logic.layout``), a status change re-colours a node, a click selects it.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars.base import Var

PACKAGE = "@xyflow/react@12.12.1"


class _XYFlow(rx.Component):
    library = PACKAGE

    def add_imports(self) -> dict[str, Any]:
        # the library's stylesheet, imported for its side effect
        return {"": ["@xyflow/react/dist/style.css"]}


def _node_click(event: Var, node: Var[dict[str, Any]]) -> tuple[Var[dict[str, Any]]]:
    del event
    return (node,)


class ReactFlow(_XYFlow):
    tag = "ReactFlow"

    nodes: Var[list[dict[str, Any]]]
    edges: Var[list[dict[str, Any]]]
    fit_view: Var[bool]
    fit_view_options: Var[dict[str, Any]]
    nodes_draggable: Var[bool]
    nodes_connectable: Var[bool]
    elements_selectable: Var[bool]
    min_zoom: Var[float]
    max_zoom: Var[float]
    only_render_visible_elements: Var[bool]
    on_init: Var[Any]
    """A JS function given the view's instance once it is ready (see ``KEEP_INSTANCE``)."""
    on_node_click: rx.EventHandler[_node_click]


class Background(_XYFlow):
    tag = "Background"


class Controls(_XYFlow):
    tag = "Controls"
    show_interactive: Var[bool]


class MiniMap(_XYFlow):
    tag = "MiniMap"
    pannable: Var[bool]
    zoomable: Var[bool]
    node_color: Var[Any]
    """A colour or a JS function of the node (see ``NODE_COLOUR``)."""
    mask_color: Var[str]


react_flow = ReactFlow.create
background = Background.create
controls = Controls.create
minimap = MiniMap.create

NODE_COLOUR: Var[Any] = Var(_js_expr="((n) => (n.style && n.style.background) || '#e5e7eb')")
"""Minimap colour of a node: its fill on the graph."""

KEEP_INSTANCE: Var[Any] = Var(_js_expr="((flow) => { window.plaitFlow = flow; })")
"""Keeps the React Flow instance where an event's script can reach it (to bring a node into
view); a page draws one graph at a time."""
