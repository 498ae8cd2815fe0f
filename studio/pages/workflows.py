"""The workflows page (the studio's home)."""

from __future__ import annotations

import reflex as rx

from studio.components import common, empty_states
from studio.components.workflow_manage import import_dialog
from studio.states.workflows import WorkflowItem, WorkflowsState


def workflow_row(w: rx.Var[WorkflowItem]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.link(w.name, href=w.href, weight="medium"),
                    rx.cond(w.archived, rx.badge("archived", color_scheme="gray", size="1")),
                    spacing="2",
                    align="center",
                ),
                rx.cond(w.description != "", rx.text(w.description, size="1", color_scheme="gray")),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.code(w.version, variant="ghost"),
                rx.text(
                    rx.cond(w.versions == 1, "", "(" + w.versions.to_string() + " versions)"),
                    size="1",
                    color_scheme="gray",
                ),
                spacing="2",
            )
        ),
        rx.table.cell(w.nodes),
        rx.table.cell(
            rx.cond(
                w.last_status != "",
                rx.link(
                    rx.hstack(
                        common.status_badge(w.last_status),
                        rx.text(w.last_run, size="1"),
                        spacing="2",
                    ),
                    href="/runs/" + w.last_run_id,
                    underline="none",
                ),
                rx.text("never run", size="1", color_scheme="gray"),
            )
        ),
        rx.table.cell(w.runs_last_day),
        rx.table.cell(rx.text(w.updated, size="1")),
        class_name="plait-workflow-row",
        data_workflow=w.name,
    )


def workflows_page() -> rx.Component:
    return common.shell(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                placeholder="Search workflows",
                value=WorkflowsState.search,
                on_change=WorkflowsState.set_search,
                width="320px",
                max_width="100%",
                id="search",
            ),
            rx.text("show archived", size="2"),
            rx.switch(
                checked=WorkflowsState.show_archived,
                on_change=WorkflowsState.set_show_archived,
                id="show-archived",
            ),
            rx.spacer(),
            import_dialog(),
            rx.link(rx.button(rx.icon("plus", size=14), "New workflow"), href="/editor"),
            margin_bottom="12px",
            align="center",
            width="100%",
            wrap="wrap",
        ),
        rx.cond(
            WorkflowsState.loading,
            common.loading("Loading workflows…"),
            rx.cond(
                WorkflowsState.items.length() == 0,
                empty_states.no_workflows(),
                rx.cond(
                    WorkflowsState.shown.length() == 0,
                    common.empty("No workflow matches this search.", icon="search"),
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in (
                                        "workflow",
                                        "latest version",
                                        "nodes",
                                        "last run",
                                        "runs (24 h)",
                                        "updated",
                                    )
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(WorkflowsState.shown, workflow_row)),
                        size="2",
                        width="100%",
                        class_name="plait-workflows",
                    ),
                ),
            ),
        ),
        title="Workflows",
    )
