"""The workflow page: graph, Run form, versions with a diff, recent runs."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.components.forms import fields
from studio.components.graph import direction_switch, graph_view
from studio.components.webhooks import webhooks_section
from studio.components.workflow_manage import actions
from studio.logic.diff import DiffLine, DiffRow
from studio.pages.runs import runs_table
from studio.pages.schedules import workflow_schedules
from studio.states.session import SessionState
from studio.states.workflow import VersionItem, WorkflowState
from studio.states.workflow_manage import WorkflowManageState


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
        rx.table.cell(rx.text(v.message, size="1"), class_name="plait-version-message"),
        rx.table.cell(v.nodes),
        rx.table.cell(v.runs),
        rx.table.cell(
            rx.hstack(
                rx.cond(v.current, rx.badge("current", color_scheme="green"), rx.fragment()),
                rx.cond(
                    v.version == WorkflowState.version,
                    rx.badge("shown", color_scheme="indigo"),
                    rx.fragment(),
                ),
                rx.cond(
                    v.current,
                    rx.fragment(),
                    rx.button(
                        "Make current",
                        size="1",
                        variant="outline",
                        disabled=~SessionState.can_write,
                        on_click=WorkflowManageState.make_current(v.version),
                        class_name="plait-make-current",
                    ),
                ),
                spacing="1",
                align="center",
            )
        ),
        class_name="plait-version-row",
        data_current=v.current,
    )


def diff_line(line: rx.Var[DiffLine]) -> rx.Component:
    return rx.cond(
        line.code.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(
            rx.text("code", size="1", weight="medium"),
            rx.el.pre(
                rx.foreach(
                    line.code,  # type: ignore[arg-type]
                    lambda text: rx.el.div(
                        text,
                        class_name=rx.match(
                            text[0],  # type: ignore[index]
                            ("+", "plait-code-added"),
                            ("-", "plait-code-removed"),
                            "plait-code-same",
                        ),
                    ),
                ),
                class_name="plait-pre plait-code-diff",
            ),
            spacing="1",
            width="100%",
        ),
        rx.text(
            rx.code(line.field),
            " ",
            rx.cond(line.old != "", line.old + " → ", ""),
            line.new,
            size="1",
            class_name="plait-diff-line",
        ),
    )


def diff_row(d: rx.Var[DiffRow]) -> rx.Component:
    colour = rx.match(
        d.change, ("added", "green"), ("removed", "red"), ("changed", "amber"), "gray"
    )
    return rx.table.row(
        rx.table.cell(rx.code(d.node)),
        rx.table.cell(rx.badge(d.change, color_scheme=colour)),
        rx.table.cell(
            rx.cond(
                d.lines.length() > 0,
                rx.vstack(rx.foreach(d.lines, diff_line), spacing="1", width="100%"),
                rx.text(d.detail, size="1"),
            ),
            max_width="520px",
        ),
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
                        for h in ("version", "published", "by", "message", "nodes", "runs", "")
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
                    rx.spacer(),
                    rx.text("show on the graph", size="1"),
                    rx.switch(
                        checked=WorkflowState.diff_on_graph,
                        on_change=WorkflowState.set_diff_on_graph,
                        size="1",
                        id="diff-on-graph",
                    ),
                    align="center",
                    spacing="2",
                    width="100%",
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


def node_panel() -> rx.Component:
    """The node picked on the graph: what it is, how it is wired, what it runs."""
    p = WorkflowState.picked
    return rx.cond(
        p.name != "",
        common.card(
            rx.vstack(
                rx.hstack(
                    rx.heading(p.name, size="3"),
                    rx.badge(p.kind, variant="outline"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("x", size=14),
                        variant="ghost",
                        size="1",
                        on_click=WorkflowState.close_node,
                        aria_label="close",
                    ),
                    width="100%",
                    align="center",
                ),
                rx.cond(p.doc != "", rx.text(p.doc, size="2", color_scheme="gray")),
                rx.cond(
                    p.wiring.length() > 0,
                    rx.text(
                        rx.foreach(p.wiring, lambda w: rx.code(w, margin_right="6px")), size="1"
                    ),
                ),
                rx.cond(p.policies != "", rx.text(p.policies, size="1")),
                rx.cond(
                    p.secrets.length() > 0,
                    rx.text("secrets: ", rx.foreach(p.secrets, rx.code), size="1"),
                ),
                rx.cond(p.config != "", common.pre(p.config, extra_class="plait-node-config")),
                rx.cond(p.source != "", common.pre(p.source, extra_class="plait-node-source")),
                rx.cond(
                    p.source_note != "",
                    rx.text(p.source_note, size="1", color_scheme="gray"),
                ),
                spacing="2",
                width="100%",
            ),
            id="workflow-node",
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
        actions(),
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
                    WorkflowState.flow_nodes,
                    WorkflowState.flow_edges,
                    key=WorkflowState.graph_key,
                    on_node_click=WorkflowState.pick_node,
                ),
                node_panel(),
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
