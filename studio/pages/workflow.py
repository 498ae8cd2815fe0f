"""The workflow page: graph, Run form, versions with a diff, recent runs."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.components.forms import fields
from studio.components.graph import direction_switch, graph_view
from studio.components.webhooks import webhooks_section
from studio.logic.diff import DiffRow
from studio.pages.runs import runs_table
from studio.pages.schedules import workflow_schedules
from studio.states.workflow import VersionItem, WorkflowState


def run_form() -> rx.Component:
    return common.card(
        rx.form(
            rx.vstack(
                rx.heading("Run", size="4"),
                rx.cond(
                    WorkflowState.fields.length() > 0,
                    fields(WorkflowState.fields, key_prefix=WorkflowState.version),
                    rx.text("This workflow takes no inputs.", size="2", color_scheme="gray"),
                ),
                rx.hstack(
                    rx.button(
                        rx.icon("play", size=14),
                        "Start run",
                        type="submit",
                        loading=WorkflowState.starting,
                        id="start-run",
                    ),
                    rx.text(
                        WorkflowState.form_message,
                        size="2",
                        color_scheme="red",
                        class_name="plait-form-message",
                    ),
                    align="center",
                    spacing="3",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=WorkflowState.start_run,
            reset_on_submit=False,
            width="100%",
            id="run-form",
        ),
    )


def version_row(v: rx.Var[VersionItem]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            # a button, not a link: a link would navigate and reload the page
            rx.button(
                rx.code(v.short),
                on_click=WorkflowState.select_version(v.version),
                variant="ghost",
                size="1",
                class_name="plait-version-pick",
            )
        ),
        rx.table.cell(v.created),
        rx.table.cell(v.publisher, class_name="plait-version-publisher"),
        rx.table.cell(v.nodes),
        rx.table.cell(v.runs),
        rx.table.cell(
            rx.cond(
                v.version == WorkflowState.version,
                rx.badge("shown", color_scheme="indigo"),
                rx.cond(v.latest, rx.badge("latest", variant="outline"), rx.fragment()),
            )
        ),
        class_name="plait-version-row",
    )


def diff_row(d: rx.Var[DiffRow]) -> rx.Component:
    colour = rx.match(
        d.change, ("added", "green"), ("removed", "red"), ("changed", "amber"), "gray"
    )
    return rx.table.row(
        rx.table.cell(rx.code(d.node)),
        rx.table.cell(rx.badge(d.change, color_scheme=colour)),
        rx.table.cell(rx.text(d.detail, size="1")),
        class_name="plait-diff-row",
        data_change=d.change,
    )


def versions() -> rx.Component:
    return common.section(
        "Versions",
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("version", "published", "by", "nodes", "runs", "")
                    ]
                )
            ),
            rx.table.body(rx.foreach(WorkflowState.versions, version_row)),
            size="1",
            width="100%",
        ),
        rx.cond(
            WorkflowState.versions.length() > 1,
            rx.vstack(
                rx.hstack(
                    rx.text("Compare", size="2"),
                    rx.select(
                        WorkflowState.version_options,
                        value=WorkflowState.diff_old,
                        on_change=WorkflowState.set_diff_old,
                        size="1",
                        id="diff-old",
                    ),
                    rx.text("→", size="2"),
                    rx.select(
                        WorkflowState.version_options,
                        value=WorkflowState.diff_new,
                        on_change=WorkflowState.set_diff_new,
                        size="1",
                        id="diff-new",
                    ),
                    align="center",
                    spacing="2",
                ),
                rx.text(WorkflowState.diff_summary, size="2", class_name="plait-diff-summary"),
                rx.cond(
                    WorkflowState.diff_rows.length() > 0,
                    rx.table.root(
                        rx.table.body(rx.foreach(WorkflowState.diff_rows, diff_row)),
                        size="1",
                        width="100%",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
        ),
    )


def body() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link("Workflows", href="/", color_scheme="gray"),
            rx.text("/", color_scheme="gray"),
            rx.heading(WorkflowState.workflow_name, size="6"),
            align="center",
            spacing="2",
        ),
        rx.cond(
            WorkflowState.description != "", rx.text(WorkflowState.description, color_scheme="gray")
        ),
        rx.text(
            WorkflowState.node_count.to_string() + " nodes · version " + WorkflowState.version,
            size="2",
            color_scheme="gray",
        ),
        rx.grid(
            rx.vstack(
                rx.hstack(
                    rx.heading("Graph", size="3", color_scheme="gray"),
                    rx.spacer(),
                    direction_switch(WorkflowState.direction, WorkflowState.set_direction),
                    width="100%",
                    align="center",
                ),
                graph_view(
                    WorkflowState.flow_nodes, WorkflowState.flow_edges, key=WorkflowState.graph_key
                ),
                width="100%",
            ),
            run_form(),
            columns=rx.breakpoints(initial="1", lg="3fr 2fr"),
            gap="20px",
            width="100%",
        ),
        rx.grid(
            versions(),
            common.section(
                rx.hstack(
                    rx.text("Recent runs"),
                    rx.link("all", href=WorkflowState.runs_href, size="2"),
                    spacing="2",
                    align="baseline",
                ),
                rx.cond(
                    WorkflowState.runs.length() > 0,
                    runs_table(WorkflowState.runs, show_workflow=False),
                    common.empty("No runs yet: start one with the form above.", icon="play"),
                ),
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            gap="24px",
            width="100%",
        ),
        workflow_schedules(),
        webhooks_section(),
        spacing="4",
        width="100%",
    )


def workflow_page() -> rx.Component:
    return common.shell(
        rx.cond(
            WorkflowState.loading,
            common.loading("Loading workflow…"),
            rx.cond(
                WorkflowState.found,
                body(),
                common.not_found(
                    "No workflow named " + WorkflowState.workflow_name, "All workflows", "/"
                ),
            ),
        ),
    )
