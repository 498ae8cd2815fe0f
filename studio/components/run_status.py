"""The run page's node counts with their legend, and the confirmation before a cancel."""

from __future__ import annotations

import reflex as rx

from studio import theme
from studio.components import common
from studio.logic.run_page import COUNTED, StatusCount
from studio.states.run import RunState
from studio.states.session import SessionState


def swatch(colour: str | rx.Var, icon: str | rx.Var) -> rx.Component:
    return rx.center(
        rx.icon(icon, size=12, color="#111827"),
        background=colour,
        border="1px solid #374151",
        border_radius="4px",
        width="18px",
        height="18px",
    )


def count_chip(c: rx.Var[StatusCount]) -> rx.Component:
    return rx.hstack(
        rx.match(
            c.status,
            *[(s, swatch(theme.status_colour(s), theme.STATUS_ICONS[s])) for s in COUNTED],
            swatch(c.colour, "circle"),
        ),
        rx.text(c.text, size="2"),
        align="center",
        spacing="1",
        class_name="plait-count",
        data_status=c.status,
    )


def status_counts() -> rx.Component:
    """``2 succeeded · 1 failed · 3 skipped · 1 cancelled · 4 pending``, each with its
    colour and icon, and a legend of every status's colour behind the "?"."""
    return rx.hstack(
        rx.foreach(RunState.status_counts, count_chip),
        rx.popover.root(
            rx.popover.trigger(
                rx.icon_button(
                    rx.icon("info", size=14),
                    variant="ghost",
                    size="1",
                    title="What the colours mean",
                    id="status-legend-open",
                )
            ),
            rx.popover.content(legend()),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        id="status-counts",
    )


def legend() -> rx.Component:
    return rx.vstack(
        rx.text("Node colours", size="2", weight="medium"),
        *[
            rx.hstack(
                swatch(theme.status_colour(s), theme.STATUS_ICONS[s]),
                rx.text(s.replace("_", " "), size="2"),
                align="center",
                spacing="2",
                class_name="plait-legend-item",
                data_status=s,
            )
            for s in COUNTED
        ],
        rx.text(
            "On the graph: pending dotted, skipped hatched, cancelled struck through.",
            size="1",
            color_scheme="gray",
        ),
        spacing="1",
        id="status-legend",
    )


def cancel_button() -> rx.Component:
    """Cancel, after a "cancel this run?" confirmation."""
    return common.confirm(
        rx.button(
            rx.icon("square", size=14),
            "Cancel",
            disabled=RunState.finished | ~SessionState.can_write,
            color_scheme="red",
            variant="soft",
            id="cancel-run",
        ),
        "Cancel this run?",
        "Running nodes are stopped and nothing more starts. A cancelled run can be retried later.",
        keep="Keep running",
        act="Cancel run",
        on_act=RunState.cancel_run,
        act_id="cancel-confirm",
        open_=RunState.cancel_confirm,
        on_open_change=RunState.ask_cancel,
    )
