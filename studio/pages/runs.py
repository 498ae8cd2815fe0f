"""The runs page and the runs table the workflow page reuses."""

from __future__ import annotations

from typing import Any

import reflex as rx

from runtime.catalog import RUN_STATUSES, TRIGGERS
from studio.components import common, waiting
from studio.states.runs import ALL, RunItem, RunsState


def run_row(run: rx.Var[RunItem], show_workflow: bool = True) -> rx.Component:
    cells = [
        rx.table.cell(
            rx.link(rx.code(run.short_id), href="/runs/" + run.id),
        ),
    ]
    if show_workflow:
        cells.append(rx.table.cell(rx.link(run.workflow, href=run.workflow_href)))
    cells += [
        rx.table.cell(
            rx.hstack(
                common.status_badge(run.status),
                rx.cond(
                    run.wake != "",
                    rx.text(run.wake, size="1", color_scheme="gray", class_name="plait-run-wake"),
                ),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(run.trigger),
        rx.table.cell(rx.text(run.owner, size="2", class_name="plait-run-owner")),
        rx.table.cell(rx.text(run.ago, title=run.created, size="2")),
        rx.table.cell(run.duration),
        rx.table.cell(rx.code(run.version, variant="ghost", color_scheme="gray")),
    ]
    return rx.table.row(*cells, class_name="plait-run-row", data_run=run.id, data_status=run.status)


def runs_table(rows: rx.Var[list[RunItem]], show_workflow: bool = True) -> rx.Component:
    heads = [
        "run",
        *(["workflow"] if show_workflow else []),
        "status",
        "trigger",
        "started by",
        "created",
        "took",
        "version",
    ]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in heads])),
        rx.table.body(rx.foreach(rows, lambda r: run_row(r, show_workflow))),
        size="1",
        width="100%",
        class_name="plait-runs",
    )


def filter_select(
    label: str, options: list[str] | rx.Var, value: rx.Var, on_change: Any, id_: str
) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select(options, value=value, on_change=on_change, size="2", id=id_),
        spacing="1",
    )


def runs_page() -> rx.Component:
    return common.shell(
        waiting.waiting_for_input(),
        rx.hstack(
            filter_select(
                "workflow",
                RunsState.workflow_options,
                RunsState.workflow_filter,
                RunsState.set_workflow_filter,
                "filter-workflow",
            ),
            filter_select(
                "status",
                [ALL, *RUN_STATUSES],
                RunsState.status_filter,
                RunsState.set_status_filter,
                "filter-status",
            ),
            filter_select(
                "trigger",
                [ALL, *TRIGGERS],
                RunsState.trigger_filter,
                RunsState.set_trigger_filter,
                "filter-trigger",
            ),
            filter_select(
                "started by",
                RunsState.owner_options,
                RunsState.owner_filter,
                RunsState.set_owner_filter,
                "filter-owner",
            ),
            rx.spacer(),
            rx.cond(
                RunsState.compare_href != "",
                rx.link(
                    rx.button(rx.icon("git_compare_arrows", size=14), "Compare", variant="soft"),
                    href=RunsState.compare_href,
                    title="Compare the newest run listed with the one before it",
                    id="compare-runs",
                ),
            ),
            rx.hstack(
                rx.text(RunsState.page_label, size="2", class_name="plait-page-label"),
                rx.icon_button(
                    rx.icon("chevron_left"),
                    on_click=RunsState.previous_page,
                    disabled=RunsState.page == 0,
                    variant="soft",
                    id="previous-page",
                ),
                rx.icon_button(
                    rx.icon("chevron_right"),
                    on_click=RunsState.next_page,
                    disabled=~RunsState.has_next,
                    variant="soft",
                    id="next-page",
                ),
                align="center",
                spacing="2",
            ),
            align="end",
            width="100%",
            margin_bottom="12px",
            wrap="wrap",
        ),
        rx.cond(
            RunsState.loading,
            common.loading("Loading runs…"),
            rx.cond(
                RunsState.rows.length() > 0,
                runs_table(RunsState.rows),
                common.empty("No runs match these filters.", icon="list"),
            ),
        ),
        title="Runs",
    )
