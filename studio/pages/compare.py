"""The compare page: pick two runs of a workflow, see each node unchanged, changed (with its
diff to expand) or only in one run."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.logic.compare import CompareRow
from studio.states.compare import CompareState

_CHANGE_COLOURS = [
    ("changed", "orange"),
    ("unchanged", "gray"),
    ("only_in_a", "red"),
    ("only_in_b", "green"),
]


def run_picker(label: str, value: rx.Var, on_change: object, id_: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select.root(
            rx.select.trigger(min_width="360px", id=id_),
            rx.select.content(
                rx.foreach(
                    CompareState.choices,
                    lambda c: rx.select.item(c.label, value=c.id),  # type: ignore[attr-defined]
                )
            ),
            value=value,
            on_change=on_change,
            size="2",
        ),
        spacing="1",
    )


def detail(row: rx.Var[CompareRow]) -> rx.Component:
    return rx.el.details(
        rx.el.summary(row.summary, class_name="plait-compare-summary"),
        rx.cond(
            row.facts.length() > 0,  # type: ignore[attr-defined]
            rx.el.ul(
                rx.foreach(row.facts, lambda f: rx.el.li(f)),  # type: ignore[arg-type]
                class_name="plait-compare-facts",
            ),
        ),
        rx.cond(
            row.lines != "",
            common.pre(row.lines, extra_class="plait-compare-lines"),
        ),
        rx.cond(
            row.picture_a != "",
            rx.hstack(
                rx.vstack(rx.image(src=row.picture_a, max_width="420px"), rx.text("A", size="1")),
                rx.vstack(rx.image(src=row.picture_b, max_width="420px"), rx.text("B", size="1")),
                spacing="4",
                class_name="plait-compare-pictures",
            ),
        ),
    )


def node_row(row: rx.Var[CompareRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.name)),
        rx.table.cell(
            rx.badge(row.label, color_scheme=rx.match(row.change, *_CHANGE_COLOURS, "gray"))
        ),
        rx.table.cell(row.status),
        rx.table.cell(row.attempts),
        rx.table.cell(rx.text(row.timing, size="2")),
        rx.table.cell(rx.cond(row.has_detail, detail(row), rx.text(row.summary, size="2"))),
        class_name="plait-compare-row",
        data_node=row.name,
        data_change=row.change,
    )


def table(rows: rx.Var[list[CompareRow]], first: str, class_name: str) -> rx.Component:
    heads = [first, "change", "status", "attempts", "time", "difference"]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in heads])),
        rx.table.body(rx.foreach(rows, node_row)),
        size="1",
        width="100%",
        class_name=class_name,
    )


def compare_page() -> rx.Component:
    return common.shell(
        rx.hstack(
            rx.link("Runs", href="/runs", color_scheme="gray"),
            rx.text("/", color_scheme="gray"),
            rx.link(CompareState.workflow, href=CompareState.workflow_href),
            rx.text("/ compare", color_scheme="gray"),
            spacing="2",
            margin_bottom="8px",
        ),
        rx.hstack(
            run_picker("run A", CompareState.run_a, CompareState.pick_a, "compare-a"),
            rx.icon_button(
                rx.icon("arrow_left_right"),
                on_click=CompareState.swap,
                variant="soft",
                title="Swap A and B",
                id="compare-swap",
            ),
            run_picker("run B", CompareState.run_b, CompareState.pick_b, "compare-b"),
            rx.cond(
                CompareState.run_a != "",
                rx.link("open A", href="/runs/" + CompareState.run_a, size="2"),
            ),
            rx.cond(
                CompareState.run_b != "",
                rx.link("open B", href="/runs/" + CompareState.run_b, size="2"),
            ),
            align="end",
            spacing="3",
            wrap="wrap",
            margin_bottom="12px",
        ),
        rx.cond(
            CompareState.error != "",
            rx.callout(CompareState.error, icon="info", width="100%", id="compare-error"),
        ),
        rx.cond(
            CompareState.loading,
            common.loading("Comparing…"),
            rx.cond(
                CompareState.rows.length() > 0,
                rx.vstack(
                    rx.foreach(
                        CompareState.heading,
                        lambda line: rx.text(line, size="1", color_scheme="gray"),
                    ),
                    rx.text(
                        CompareState.summary, weight="medium", class_name="plait-compare-total"
                    ),
                    rx.cond(
                        CompareState.input_rows.length() > 0,
                        table(CompareState.input_rows, "input", "plait-compare-inputs"),
                    ),
                    table(CompareState.rows, "node", "plait-compare"),
                    width="100%",
                    spacing="2",
                ),
            ),
        ),
        title="Compare runs",
    )


__all__ = ["compare_page"]
