"""The runs page's "Waiting for input" section: each open question, linked to its form."""

from __future__ import annotations

import reflex as rx

from studio.logic.waiting import WaitingItem
from studio.states.waiting import WaitingState


def waiting_row(item: rx.Var[WaitingItem]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(item.question, href=item.href, weight="medium")),
        rx.table.cell(rx.code(item.node)),
        rx.table.cell(item.workflow),
        rx.table.cell(rx.link(rx.code(item.short_id), href=item.href)),
        rx.table.cell(rx.text(item.since, size="1")),
        class_name="plait-waiting-row",
        data_run=item.run_id,
        data_node=item.node,
    )


def waiting_for_input() -> rx.Component:
    """Shown only while some run waits for someone."""
    return rx.cond(
        WaitingState.items.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("hand", size=16, color="var(--amber-11)"),
                    rx.heading("Waiting for input", size="3"),
                    rx.badge(WaitingState.items.length(), color_scheme="amber"),
                    align="center",
                    spacing="2",
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("question", "node", "workflow", "run", "waiting since")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(WaitingState.items, waiting_row)),
                    size="1",
                    width="100%",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            margin_bottom="16px",
            border="1px solid var(--amber-7)",
            id="waiting-for-input",
        ),
    )
