"""How a value preview (``studio.logic.preview.Preview``) is drawn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from studio.components.common import pre
from studio.logic.preview import JsonRow, Preview


def table(preview: rx.Var[Preview]) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.foreach(preview.columns, lambda c: rx.table.column_header_cell(c)),
                )
            ),
            rx.table.body(
                rx.foreach(
                    preview.rows,
                    lambda row: rx.table.row(
                        rx.foreach(row, lambda cell: rx.table.cell(cell)),
                    ),
                )
            ),
            size="1",
            variant="surface",
            class_name="plait-frame",
        ),
        max_height="420px",
        overflow="auto",
        width="100%",
    )


def json_tree(
    rows: rx.Var[list[JsonRow]],
    toggle: Callable[[Any], Any] | None = None,
    collapsed: rx.Var[list[str]] | None = None,
) -> rx.Component:
    """JSON as an indented tree; with ``toggle``, containers fold and unfold."""

    def line(row: rx.Var[JsonRow]) -> rx.Component:
        marker: Any = ""
        if toggle is not None and collapsed is not None:
            marker = rx.cond(
                row.container,
                rx.cond(collapsed.contains(row.path), "▸ ", "▾ "),
                "",
            )
        key = rx.cond(row.key != "", row.key + ": ", "")
        events: dict[str, Any] = {}
        if toggle is not None:
            events = {"on_click": toggle(row.path), "cursor": "pointer"}
        return rx.box(
            rx.text.span(marker, color="var(--gray-9)"),
            rx.text.span(key, color="var(--accent-11)"),
            rx.text.span(row.value, color=rx.cond(row.container, "var(--gray-10)", "inherit")),
            padding_left=row.indent,
            class_name="plait-json-row",
            **events,
        )

    return rx.box(
        rx.foreach(rows, line),
        max_height="420px",
        overflow="auto",
        width="100%",
        padding="6px",
        border="1px solid var(--gray-a5)",
        border_radius="6px",
    )


def plotly_figure(figure: rx.Var[dict[str, Any]]) -> rx.Component:
    """A plotly figure sent as its JSON (data and layout), drawn in the browser."""
    from plotly.graph_objects import Figure

    return rx.box(rx.plotly(data=figure.to(Figure), width="100%"), class_name="plait-plotly")


def value_view(
    preview: rx.Var[Preview],
    json_rows: rx.Var[list[JsonRow]] | None = None,
    toggle: Callable[[Any], Any] | None = None,
    collapsed: rx.Var[list[str]] | None = None,
) -> rx.Component:
    """A preview of any kind, with its summary line and a note when it was cut."""
    return rx.vstack(
        rx.cond(preview.summary != "", rx.text(preview.summary, size="1", color_scheme="gray")),
        rx.match(
            preview.kind,
            ("table", table(preview)),
            (
                "markdown",
                rx.box(rx.markdown(preview.text), class_name="plait-markdown", width="100%"),
            ),
            ("text", pre(preview.text)),
            (
                "json",
                json_tree(
                    json_rows if json_rows is not None else preview.json_rows, toggle, collapsed
                ),
            ),
            ("image", rx.image(src=preview.image, max_width="100%")),
            ("plotly", plotly_figure(preview.figure)),
            ("bytes", rx.fragment()),
            rx.text("no value", color_scheme="gray", size="2"),
        ),
        rx.cond(preview.note != "", rx.text(preview.note, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
        class_name="plait-value",
    )
