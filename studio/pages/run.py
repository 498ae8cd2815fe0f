"""The run page: live graph, wait forms, node panel, timeline, inputs and outputs."""

from __future__ import annotations

import reflex as rx

from studio.components import common, run_log, run_status, values
from studio.components.forms import fields
from studio.components.graph import GraphSearch, direction_switch, graph_view
from studio.components.node_details import details_sections
from studio.data import ShareLinkRow
from studio.logic.forms import NODE_FIELD, WaitForm
from studio.logic.live import Bar, TimelineRow
from studio.logic.maps import PAGE_SIZE, MapLine, MapPanel
from studio.logic.replay import INPUTS_FIELD, OVERRIDE_FIELD, VERSION_FIELD, PlanRow
from studio.states.run import ADDRESS_BUTTON, SHARE_LIFETIMES, RunState
from studio.states.session import SessionState


def header() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link("Runs", href="/runs", color_scheme="gray"),
            rx.text("/", color_scheme="gray"),
            rx.link(RunState.workflow, href=RunState.workflow_href),
            rx.text("/", color_scheme="gray"),
            rx.code(RunState.run_id, size="2"),  # type: ignore[attr-defined]
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(
            RunState.parent_line != "",
            rx.link(RunState.parent_line, href=RunState.parent_href, id="parent-run", size="2"),
        ),
        rx.foreach(
            RunState.children,
            lambda c: rx.el.details(  # nested: expanded, the child's own nodes
                rx.el.summary(
                    rx.link(
                        c.node + ": " + c.line, href=c.href, size="2", class_name="plait-child-run"
                    ),
                    cursor="pointer",
                ),
                rx.text(c.nodes, size="1", color_scheme="gray", class_name="plait-child-nodes"),
                class_name="plait-child",
            ),
        ),
        rx.cond(
            RunState.maps.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(rx.foreach(RunState.maps, map_line), spacing="1"),
        ),
        rx.hstack(
            common.status_badge(RunState.run_status, size="3", id="run-status"),
            rx.text(RunState.progress, size="2", class_name="plait-progress"),
            rx.cond(
                RunState.wake != "",
                rx.text(RunState.wake, size="2", color_scheme="violet", id="run-wake"),
            ),
            rx.cond(
                RunState.elapsed != "",
                rx.text("· " + RunState.elapsed, size="2", color_scheme="gray"),
            ),
            rx.cond(
                RunState.cancel_requested & ~RunState.finished,
                rx.badge("cancel requested", color_scheme="orange"),
            ),
            rx.spacer(),
            actions(),
            align="center",
            width="100%",
            wrap="wrap",
            spacing="3",
        ),
        run_status.status_counts(),
        rx.hstack(
            rx.text("version " + RunState.version, size="1", color_scheme="gray"),
            rx.text("· trigger " + RunState.trigger, size="1", color_scheme="gray"),
            rx.cond(
                RunState.started_by != "",
                rx.link(
                    "· " + RunState.started_by,
                    href=RunState.started_by_href,
                    size="1",
                    color_scheme="gray",
                    id="run-started-by",
                ),
            ),
            rx.text("· created " + RunState.created, size="1", color_scheme="gray"),
            rx.cond(
                RunState.replay_of != "",
                rx.hstack(
                    rx.text("· replay of", size="1", color_scheme="gray"),
                    rx.link(
                        rx.code(RunState.replay_of, size="1"),
                        href="/runs/" + RunState.replay_of,
                        id="run-replay-of",
                    ),
                    spacing="1",
                    align="center",
                ),
            ),
            rx.cond(
                RunState.owner != "",
                rx.text(
                    "· started by " + RunState.owner,
                    size="1",
                    color_scheme="gray",
                    id="run-owner",
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(
            RunState.error != "",
            rx.callout(RunState.error, icon="triangle_alert", color_scheme="red", width="100%"),
        ),
        rx.cond(
            RunState.live_error != "",
            rx.callout(RunState.live_error, icon="unplug", color_scheme="orange", width="100%"),
        ),
        rx.cond(
            RunState.message != "",
            rx.text(
                RunState.message, size="2", color_scheme="gray", class_name="plait-action-message"
            ),
        ),
        share_dialog(),
        spacing="2",
        width="100%",
    )


def actions() -> rx.Component:
    return rx.hstack(
        run_status.cancel_button(),
        rx.button(
            rx.icon("rotate_ccw", size=14),
            "Retry",
            on_click=RunState.retry_run,
            disabled=~RunState.retryable | ~SessionState.can_write,
            title="Continue this run from its failure: succeeded nodes are kept",
            variant="soft",
            id="retry-run",
        ),
        rx.button(
            rx.icon("refresh_cw", size=14),
            "Rerun",
            on_click=RunState.rerun_run,
            disabled=~SessionState.can_write,
            title="Start a new run with the same inputs",
            variant="soft",
            id="rerun-run",
        ),
        rx.button(
            rx.icon("share_2", size=14),
            "Share",
            on_click=RunState.open_share,
            variant="soft",
            id="share-run",
        ),
        rx.cond(
            RunState.source_href != "",
            rx.link(
                rx.button(rx.icon("git_compare", size=14), "Compare with source", variant="soft"),
                href=RunState.source_href,
                id="compare-source",
            ),
        ),
        rx.link(
            rx.button(rx.icon("git_compare_arrows", size=14), "Compare with…", variant="soft"),
            href="/compare?b=" + RunState.run_id,  # type: ignore[attr-defined]
            id="compare-run",
        ),
        rx.link(
            rx.button(rx.icon("file_text", size=14), "Report", variant="soft"),
            href="/api/v1/runs/" + RunState.run_id + "/report",  # type: ignore[attr-defined]
            is_external=True,
        ),
        spacing="2",
        wrap="wrap",
    )


def share_dialog() -> rx.Component:
    """Create read-only links (served by runtime.sharing at /r/<token>), list and revoke them."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Share this run"),
            rx.dialog.description(
                "A link shows this run's report, read-only and live while it runs, to anyone "
                "who has it: no actions, no secrets, no other run.",
                size="2",
                color_scheme="gray",
            ),
            rx.hstack(
                rx.text("Expires after", size="2"),
                rx.select(
                    list(SHARE_LIFETIMES),
                    value=RunState.share_lifetime,
                    on_change=RunState.set_share_lifetime,
                    id="share-lifetime",
                ),
                rx.button(
                    rx.icon("link", size=14),
                    "Create link",
                    on_click=RunState.share_run,
                    id="share-create",
                ),
                align="center",
                spacing="3",
                margin_y="16px",
            ),
            rx.cond(RunState.share_url != "", new_link()),
            rx.cond(
                RunState.share_message != "",
                rx.text(RunState.share_message, size="2", color_scheme="gray", id="share-message"),
            ),
            share_links(),
            rx.flex(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                justify="end",
                margin_top="16px",
            ),
            max_width="680px",
        ),
        open=RunState.share_open,
        on_open_change=RunState.set_share_open,
    )


def new_link() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon("link", size=16, color="var(--blue-11)"),
            rx.text("Copy the link now: it is shown only once.", size="2", weight="medium"),
            align="center",
            spacing="2",
        ),
        rx.hstack(
            rx.input(value=RunState.share_url, read_only=True, flex="1", id="share-link"),
            rx.icon_button(
                rx.icon("copy", size=14),
                on_click=rx.set_clipboard(RunState.share_url),
                variant="soft",
                title="Copy",
            ),
            rx.link(
                rx.icon_button(rx.icon("external_link", size=14), variant="soft"),
                href=RunState.share_url,
                is_external=True,
                title="Open",
            ),
            width="100%",
            spacing="2",
            margin_top="8px",
        ),
        background="var(--blue-a3)",
        border_radius="var(--radius-3)",
        padding="12px",
        margin_bottom="12px",
        width="100%",
    )


def share_link_row(link: rx.Var[ShareLinkRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link.id),
        rx.table.cell(
            rx.badge(
                link.state,
                color_scheme=rx.match(link.state, ("active", "green"), "gray"),
                variant="soft",
            )
        ),
        rx.table.cell(link.created),
        rx.table.cell(link.created_by),
        rx.table.cell(link.expires),
        rx.table.cell(
            rx.cond(
                link.state == "active",
                rx.button(
                    "Revoke",
                    on_click=RunState.revoke_share(link.id),
                    size="1",
                    color_scheme="red",
                    variant="soft",
                    class_name="plait-share-revoke",
                ),
            )
        ),
        class_name="plait-share-row",
        data_link=link.id,
        data_state=link.state,
    )


def share_links() -> rx.Component:
    return rx.cond(
        RunState.share_links.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *(
                        rx.table.column_header_cell(name)
                        for name in ("id", "state", "created", "by", "expires", "")
                    )
                )
            ),
            rx.table.body(rx.foreach(RunState.share_links, share_link_row)),
            size="1",
            width="100%",
            id="share-links",
        ),
        rx.text("This run has no share links yet.", size="2", color_scheme="gray"),
    )


def wait_form(form: rx.Var[WaitForm]) -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.hstack(
                    rx.icon("hand", size=16),
                    rx.heading(form.title, size="3"),
                    align="center",
                    spacing="2",
                ),
                rx.el.input(type="hidden", name=NODE_FIELD, value=form.node),
                rx.cond(
                    form.context.length() > 0,
                    rx.vstack(
                        rx.text("What this is about", size="1", weight="medium"),
                        rx.foreach(
                            form.context,
                            lambda c: rx.vstack(
                                rx.code(c.name, size="1"),
                                values.value_view(c.preview),
                                spacing="1",
                                width="100%",
                            ),
                        ),
                        spacing="2",
                        width="100%",
                        class_name="plait-wait-context",
                        max_height="320px",
                        overflow_y="auto",
                    ),
                ),
                fields(form.fields, key_prefix=form.node),
                rx.hstack(
                    rx.button("Submit", type="submit", class_name="plait-wait-submit"),
                    rx.text(form.message, size="2", class_name="plait-form-message"),
                    align="center",
                    spacing="3",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=RunState.submit_wait,
            reset_on_submit=False,
            width="100%",
        ),
        width="100%",
        class_name="plait-wait-form",
        data_node=form.node,
        border="1px solid var(--amber-7)",
    )


def node_panel() -> rx.Component:
    d = RunState.detail
    return rx.cond(
        RunState.selected == "",
        common.empty("Click a node to see its output, error and logs.", icon="mouse-pointer-click"),
        rx.vstack(
            rx.hstack(
                rx.heading(RunState.selected, size="4", class_name="plait-node-title"),
                rx.cond(d.kind != "", rx.badge(d.kind, variant="outline")),
                common.status_badge(d.status),
                rx.cond(
                    d.wake != "",
                    rx.text(d.wake, size="2", color_scheme="violet", class_name="plait-node-wake"),
                ),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("x", size=14),
                    variant="ghost",
                    on_click=RunState.close_detail,
                    class_name="plait-node-close",
                    aria_label="Close the node panel",
                ),
                align="center",
                width="100%",
            ),
            rx.cond(RunState.detail_loading, common.loading("Loading node…")),
            replay_section(),
            rx.cond(d.doc != "", rx.text(d.doc, size="2", color_scheme="gray")),
            rx.cond(
                d.skipped_because != "",
                rx.text(
                    "Skipped: " + d.skipped_because,
                    size="2",
                    color_scheme="gray",
                    class_name="plait-skipped-because",
                ),
            ),
            rx.cond(
                d.error != "",
                common.section(
                    "Error",
                    rx.text(
                        d.error_type + ": " + d.error, color_scheme="red", size="2", weight="medium"
                    ),
                    common.pre(d.traceback, error=True, extra_class="plait-traceback"),
                ),
            ),
            common.section(
                "Output",
                rx.cond(
                    RunState.stream_text != "",
                    streamed_text(),
                    values.value_view(
                        d.output,
                        json_rows=RunState.detail_json_rows,
                        toggle=RunState.toggle_json,
                        collapsed=RunState.collapsed,
                    ),
                ),
                rx.cond(d.answered_by != "", rx.text("answered by " + d.answered_by, size="1")),
                rx.cond(
                    d.child != "",
                    rx.link(d.child, href=d.child_href, size="2", id="node-child-run"),
                ),
                rx.cond(
                    d.cached_from != "",
                    rx.link(d.cached_from, href=d.cached_href, size="2", id="node-cached-from"),
                ),
                class_name="plait-node-output",
            ),
            rx.cond(d.map.progress != "", map_section(d.map)),
            details_sections(d.extras),
            rx.cond(
                d.logs != "",
                common.section("Logs", common.pre(d.logs, extra_class="plait-logs")),
            ),
            rx.cond(
                d.inputs.length() > 0,  # type: ignore[attr-defined]
                common.section(
                    "Inputs",
                    rx.table.root(
                        rx.table.body(
                            rx.foreach(
                                d.inputs,
                                lambda i: rx.table.row(
                                    rx.table.cell(rx.code(i.param)),
                                    rx.table.cell(i.value),
                                ),
                            )
                        ),
                        size="1",
                        width="100%",
                    ),
                ),
            ),
            rx.cond(
                d.attempts.length() > 0,  # type: ignore[attr-defined]
                common.section(
                    "Attempts",
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("#"),
                                rx.table.column_header_cell("status"),
                                rx.table.column_header_cell("started"),
                                rx.table.column_header_cell("took"),
                            )
                        ),
                        rx.table.body(
                            rx.foreach(
                                d.attempts,
                                lambda a: rx.table.row(
                                    rx.table.cell(a.number),
                                    rx.table.cell(a.status),
                                    rx.table.cell(a.started),
                                    rx.table.cell(a.duration),
                                ),
                            )
                        ),
                        size="1",
                        width="100%",
                    ),
                ),
            ),
            rx.foreach(
                d.documents,
                lambda doc: common.section(
                    "Document: " + doc.name,
                    values.value_view(doc.preview),
                    class_name="plait-document",
                ),
            ),
            spacing="4",
            width="100%",
            class_name="plait-node-panel",
        ),
    )


def streamed_text() -> rx.Component:
    """An LLM node's text as it streams in (none of it stored: the output replaces it)."""
    return rx.vstack(
        rx.badge(
            rx.icon("pen_line", size=12),
            "streaming",
            color_scheme="indigo",
            variant="soft",
            id="node-streaming",
        ),
        common.pre(RunState.stream_text, extra_class="plait-stream", id="node-stream"),
        spacing="1",
        width="100%",
    )


def map_line(line: rx.Var[MapLine]) -> rx.Component:
    """A map node of the run, collapsed: its elements' progress and failures by index."""
    return rx.hstack(
        rx.link(rx.code(line.node), on_click=RunState.select_name(line.node), cursor="pointer"),
        rx.badge(line.progress, variant="soft", class_name="plait-map-progress"),
        rx.cond(
            line.failed > 0,
            rx.text(line.failures, size="1", color_scheme="red", class_name="plait-map-failures"),
        ),
        align="center",
        spacing="2",
        class_name="plait-map-line",
        data_map=line.node,
    )


def map_section(m: rx.Var[MapPanel]) -> rx.Component:
    """A map node's panel: progress, failures by index, the histogram of element durations,
    and its elements a page at a time."""
    return common.section(
        "Elements",
        rx.hstack(
            rx.badge(m.progress, class_name="plait-map-progress"),
            rx.text(m.page, size="1", color_scheme="gray"),
            align="center",
        ),
        rx.cond(
            m.failures != "",
            rx.text("failed: " + m.failures, size="1", color_scheme="red"),
        ),
        rx.cond(
            m.histogram.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.hstack(
                    rx.foreach(
                        m.histogram,
                        lambda bar: rx.box(
                            height=bar.height,
                            width="14px",
                            background="var(--accent-9)",
                            title=bar.title,
                        ),
                    ),
                    align="end",
                    height="40px",
                    spacing="1",
                    class_name="plait-histogram",
                ),
                rx.text("element durations " + m.span, size="1", color_scheme="gray"),
                spacing="1",
            ),
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("element"),
                    rx.table.column_header_cell("status"),
                    rx.table.column_header_cell("attempts"),
                    rx.table.column_header_cell("took"),
                    rx.table.column_header_cell("error"),
                )
            ),
            rx.table.body(
                rx.foreach(
                    m.elements,
                    lambda e: rx.table.row(
                        rx.table.cell(e.index),
                        rx.table.cell(common.status_badge(e.status)),
                        rx.table.cell(e.attempts),
                        rx.table.cell(e.duration),
                        rx.table.cell(e.error),
                        data_element=e.index,
                    ),
                )
            ),
            size="1",
            width="100%",
            class_name="plait-elements",
        ),
        rx.hstack(
            rx.button(
                "previous",
                size="1",
                variant="soft",
                disabled=m.offset == 0,
                on_click=RunState.element_page(-1),
            ),
            rx.button(
                "next",
                size="1",
                variant="soft",
                disabled=m.offset + PAGE_SIZE >= m.total,
                on_click=RunState.element_page(1),
            ),
        ),
    )


def plan_row(row: rx.Var[PlanRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.node)),
        rx.table.cell(
            rx.badge(row.action, color_scheme=rx.cond(row.action == "reuse", "green", "orange"))
        ),
        rx.table.cell(row.reason),
        class_name="plait-plan-row",
    )


def replay_form() -> rx.Component:
    """Changed inputs and an optional override of this node's output; "Preview" draws the
    plan on the graph, "Replay" (only then) starts it."""
    return rx.vstack(
        rx.form(
            rx.vstack(
                rx.text("Changed run inputs (JSON object; empty: none)", size="1"),
                rx.text_area(
                    name=INPUTS_FIELD,
                    placeholder='{"rows": 10}',
                    on_change=RunState.replay_form_changed,
                    width="100%",
                    id="replay-inputs",
                ),
                rx.text("Take this output as given (JSON; empty: run the node again)", size="1"),
                rx.text_area(
                    name=OVERRIDE_FIELD,
                    placeholder="leave empty to re-run " + RunState.selected,
                    on_change=RunState.replay_form_changed,
                    width="100%",
                    id="replay-override",
                ),
                rx.hstack(
                    rx.text("Version", size="1"),
                    rx.input(
                        name=VERSION_FIELD,
                        default_value="latest",
                        on_change=RunState.replay_form_changed,
                        size="1",
                        id="replay-version",
                    ),
                    rx.spacer(),
                    rx.button("Preview plan", type="submit", variant="soft", id="replay-preview"),
                    width="100%",
                    align="center",
                ),
                spacing="2",
                width="100%",
            ),
            on_submit=RunState.preview_replay,
            reset_on_submit=False,
            width="100%",
        ),
        rx.cond(
            RunState.replay_message != "",
            rx.text(RunState.replay_message, color_scheme="red", size="2", id="replay-message"),
        ),
        rx.cond(
            RunState.replay_rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.text(RunState.replay_summary, size="2", weight="medium", id="replay-summary"),
                rx.table.root(
                    rx.table.body(rx.foreach(RunState.replay_rows, plan_row)),
                    size="1",
                    width="100%",
                ),
                width="100%",
                spacing="2",
            ),
        ),
        rx.hstack(
            rx.button(
                rx.icon("play", size=14),
                "Replay",
                on_click=RunState.confirm_replay,
                disabled=~RunState.replay_planned,
                id="replay-confirm",
            ),
            rx.button("Close", on_click=RunState.close_replay, variant="ghost"),
            spacing="2",
        ),
        spacing="2",
        width="100%",
        class_name="plait-replay-form",
    )


def replay_section() -> rx.Component:
    return rx.cond(
        RunState.finished & SessionState.can_write,
        rx.cond(
            RunState.replay_open,
            common.section("Replay from here", replay_form()),
            rx.button(
                rx.icon("history", size=14),
                "Replay from here",
                on_click=RunState.open_replay,
                variant="soft",
                size="1",
                title="A new run reusing every checkpoint not downstream of this node",
                id="replay-from-here",
            ),
        ),
    )


def gantt_bar(bar: rx.Var[Bar]) -> rx.Component:
    return rx.box(
        class_name="plait-gantt-bar",
        left=bar.left,
        width=bar.width,
        background=bar.colour,
        title=bar.title,
    )


def timeline_row(row: rx.Var[TimelineRow]) -> rx.Component:
    return rx.grid(
        rx.text(
            row.node,
            size="1",
            truncate=True,
            cursor="pointer",
            on_click=RunState.select_name(row.node),
        ),
        rx.box(rx.foreach(row.bars, gantt_bar), class_name="plait-gantt-row"),
        rx.text(row.duration, size="1", color_scheme="gray", text_align="right"),
        columns="180px 1fr 80px",
        gap="8px",
        align_items="center",
        class_name="plait-timeline-row",
        data_node=row.node,
    )


def timeline() -> rx.Component:
    return common.section(
        rx.hstack(
            rx.text("Timeline"),
            rx.text(RunState.timeline_span, size="1", color_scheme="gray", weight="regular"),
            spacing="2",
            align="baseline",
        ),
        rx.cond(
            RunState.timeline_rows.length() > 0,
            rx.box(
                rx.foreach(RunState.timeline_rows, timeline_row),
                max_height="360px",
                overflow_y="auto",
                width="100%",
                class_name="plait-timeline",
            ),
            common.empty("No node has started yet.", icon="clock"),
        ),
    )


def inputs_outputs() -> rx.Component:
    return rx.grid(
        common.section(
            "Run inputs",
            rx.cond(
                RunState.inputs.length() > 0,
                rx.table.root(
                    rx.table.body(
                        rx.foreach(
                            RunState.inputs,
                            lambda kv: rx.table.row(
                                rx.table.cell(rx.code(kv.key)), rx.table.cell(kv.value)
                            ),
                        )
                    ),
                    size="1",
                    width="100%",
                ),
                rx.text("none (defaults apply)", size="2", color_scheme="gray"),
            ),
        ),
        common.section(
            "Outputs",
            rx.cond(
                RunState.outputs.length() > 0,
                rx.vstack(
                    rx.foreach(
                        RunState.outputs,
                        lambda o: rx.vstack(
                            rx.code(o.name), values.value_view(o.preview), width="100%"
                        ),
                    ),
                    width="100%",
                    class_name="plait-outputs",
                ),
                rx.text(
                    rx.cond(RunState.finished, "no outputs", "outputs appear when the run ends"),
                    size="2",
                    color_scheme="gray",
                ),
            ),
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        gap="24px",
        width="100%",
    )


def body() -> rx.Component:
    return rx.vstack(
        header(),
        rx.foreach(RunState.waits, wait_form),
        rx.grid(
            rx.vstack(
                rx.hstack(
                    rx.heading("Graph", size="3", color_scheme="gray"),
                    rx.spacer(),
                    direction_switch(RunState.direction, RunState.set_direction),
                    width="100%",
                    align="center",
                ),
                graph_view(
                    RunState.flow_nodes,
                    RunState.flow_edges,
                    key=RunState.graph_key,
                    on_node_click=RunState.select_node,
                    search=GraphSearch(
                        RunState.graph_query, RunState.search_graph, RunState.graph_found
                    ),
                ),
                width="100%",
            ),
            rx.box(
                node_panel(),
                max_height="560px",
                overflow_y="auto",
                width="100%",
            ),
            columns=rx.breakpoints(initial="1", lg="3fr 2fr"),
            gap="20px",
            width="100%",
        ),
        timeline(),
        run_log.run_log_view(),
        inputs_outputs(),
        spacing="5",
        width="100%",
    )


def run_page() -> rx.Component:
    return common.shell(
        rx.el.button(
            id=ADDRESS_BUTTON,
            data_path="/runs/" + RunState.run_id,  # type: ignore[attr-defined]
            on_click=RunState.follow_address,
            display="none",
            aria_hidden="true",
            tab_index=-1,
        ),
        rx.cond(
            RunState.loading,
            common.loading("Loading run…"),
            rx.cond(
                RunState.found,
                body(),
                common.not_found("No run with id " + RunState.run_id, "All runs", "/runs"),  # type: ignore[attr-defined]
            ),
        ),
    )
