"""The run page's "Log and events" view: one scrolling list of the whole run."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.logic import run_log
from studio.logic.run_log import LogLine
from studio.states.run_log import RunLogState


def log_line(line: rx.Var[LogLine]) -> rx.Component:
    return rx.hstack(
        rx.text(line.time, size="1", color_scheme="gray", min_width="92px"),
        rx.text(line.node, size="1", weight="medium", min_width="120px", truncate=True),
        rx.badge(
            line.level,
            size="1",
            variant="soft",
            color_scheme=rx.match(
                line.level, ("error", "red"), ("warning", "orange"), ("log", "gray"), "blue"
            ),
            min_width="60px",
        ),
        rx.text(line.text, size="1", class_name="plait-log-text", white_space="pre-wrap"),
        spacing="2",
        align="start",
        class_name="plait-run-log-line",
        data_node=line.node,
        data_level=line.level,
        font_family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
    )


def run_log_view() -> rx.Component:
    return common.section(
        rx.hstack(
            rx.text("Log and events"),
            rx.spacer(),
            rx.select(
                RunLogState.node_options,
                value=RunLogState.node_filter,
                on_change=RunLogState.set_node_filter,
                size="1",
                id="run-log-node",
            ),
            rx.select(
                list(run_log.LEVELS),
                value=RunLogState.level_filter,
                on_change=RunLogState.set_level_filter,
                size="1",
                id="run-log-level",
            ),
            align="center",
            width="100%",
            spacing="2",
        ),
        rx.cond(
            RunLogState.lines.length() > 0,
            rx.vstack(
                rx.foreach(RunLogState.lines, log_line),
                spacing="1",
                max_height="360px",
                overflow_y="auto",
                width="100%",
                padding="8px",
                border="1px solid var(--gray-a5)",
                border_radius="6px",
            ),
            common.empty("Nothing logged yet for this filter.", icon="scroll-text"),
        ),
        id="run-log",
    )
