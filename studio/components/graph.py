"""A workflow graph drawn with React Flow: pannable, zoomable, with a minimap for big ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from studio import theme
from studio.components import flow


def graph_view(
    nodes: rx.Var[list[dict[str, Any]]],
    edges: rx.Var[list[dict[str, Any]]],
    *,
    key: rx.Var[str] | str,
    on_node_click: Callable[..., Any] | None = None,
) -> rx.Component:
    """``key`` remounts the view (and fits it again) when the graph itself changes. Big
    graphs get a taller panel."""
    events = {"on_node_click": on_node_click} if on_node_click is not None else {}
    return rx.box(
        flow.react_flow(
            flow.background(),
            flow.controls(show_interactive=False),
            flow.minimap(pannable=True, zoomable=True, node_color=flow.NODE_COLOUR),
            nodes=nodes,
            edges=edges,
            fit_view=True,
            fit_view_options={"padding": 0.1, "maxZoom": 1.2},
            nodes_draggable=False,
            nodes_connectable=False,
            elements_selectable=True,
            min_zoom=0.05,
            max_zoom=2.0,
            key=key,
            **events,
        ),
        height=rx.cond(
            nodes.length() > theme.BIG_GRAPH, theme.BIG_GRAPH_HEIGHT, theme.GRAPH_HEIGHT
        ),  # type: ignore[attr-defined]
        width="100%",
        border="1px solid var(--gray-a5)",
        border_radius="8px",
        background="white",
        class_name="plait-graph",
    )


def direction_switch(value: rx.Var[str], on_change: Callable[..., Any]) -> rx.Component:
    return rx.segmented_control.root(
        rx.segmented_control.item("left → right", value="LR"),
        rx.segmented_control.item("top ↓ bottom", value="TB"),
        value=value,
        on_change=on_change,
        size="1",
    )
