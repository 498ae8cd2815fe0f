"""A workflow graph drawn with React Flow: pannable, zoomable, with a minimap for big ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    search: GraphSearch | None = None,
) -> rx.Component:
    """``key`` remounts the view (and fits it again) when the graph itself changes. Big
    graphs get a taller panel. ``search`` puts a node search box above the graph."""
    events = {"on_node_click": on_node_click} if on_node_click is not None else {}
    panel = rx.box(
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
            on_init=flow.KEEP_INSTANCE,
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
    if search is None:
        return panel
    return rx.vstack(search_box(search), panel, width="100%", spacing="2")


@dataclass(frozen=True)
class GraphSearch:
    """What the node search box shows and whom it tells."""

    value: rx.Var[str]
    on_change: Callable[..., Any]
    """Given the text typed (debounced); the state marks the nodes it finds
    ``plait-match``, the others ``plait-dim``, and brings the first into view."""
    found: rx.Var[str]
    """``3 found``: said next to the box."""


def search_box(search: GraphSearch) -> rx.Component:
    return rx.hstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="find a node",
            value=search.value,
            on_change=search.on_change.debounce(200),  # type: ignore[attr-defined]
            size="1",
            width="240px",
            max_width="100%",
            id="graph-search",
            type="search",
        ),
        rx.text(search.found, size="1", color_scheme="gray", id="graph-found"),
        align="center",
        spacing="2",
        wrap="wrap",
    )


def direction_switch(value: rx.Var[str], on_change: Callable[..., Any]) -> rx.Component:
    return rx.segmented_control.root(
        rx.segmented_control.item("left → right", value="LR"),
        rx.segmented_control.item("top ↓ bottom", value="TB"),
        value=value,
        on_change=on_change,
        size="1",
    )
