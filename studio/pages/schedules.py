"""The schedules page, and the schedules section of a workflow page."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.logic.schedules import ScheduleItem
from studio.states.schedules import SchedulesState


def schedule_row(s: rx.Var[ScheduleItem], show_workflow: bool) -> rx.Component:
    cells = [rx.table.cell(rx.code(s.id.to_string()))]
    if show_workflow:
        cells.append(rx.table.cell(rx.link(s.workflow, href=s.workflow_href)))
    cells += [
        rx.table.cell(rx.code(s.cron)),
        rx.table.cell(rx.text(s.tz, size="2")),
        rx.table.cell(
            rx.cond(
                s.paused,
                rx.badge("paused", color_scheme="gray"),
                rx.badge("active", color_scheme="green"),
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.foreach(
                    s.next_fires,
                    lambda at: rx.text(at, size="1", class_name="plait-next-fire"),
                ),
                rx.cond(s.paused, rx.text("—", size="1", color_scheme="gray")),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(s.last_fire, size="1")),
        rx.table.cell(s.overlap),
        rx.table.cell(rx.text(s.source, size="1")),
        rx.table.cell(
            rx.cond(
                s.paused,
                rx.button(
                    "Resume",
                    size="1",
                    on_click=SchedulesState.resume(s.id),
                    class_name="plait-schedule-resume",
                ),
                rx.button(
                    "Pause",
                    size="1",
                    variant="soft",
                    on_click=SchedulesState.pause(s.id),
                    class_name="plait-schedule-pause",
                ),
            )
        ),
    ]
    return rx.table.row(
        *cells, class_name="plait-schedule-row", data_schedule=s.id, data_paused=s.paused
    )


def schedules_table(show_workflow: bool = True) -> rx.Component:
    heads = [
        "id",
        *(["workflow"] if show_workflow else []),
        "cron",
        "time zone",
        "state",
        "next fires (your time)",
        "last fire",
        "overlap",
        "made by",
        "",
    ]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in heads])),
        rx.table.body(rx.foreach(SchedulesState.items, lambda s: schedule_row(s, show_workflow))),
        size="1",
        width="100%",
        class_name="plait-schedules",
    )


def zone_note() -> rx.Component:
    return rx.text(
        "Times in your time zone: ",
        rx.code(SchedulesState.viewer_tz, class_name="plait-viewer-tz"),
        size="1",
        color_scheme="gray",
    )


def message() -> rx.Component:
    return rx.cond(
        SchedulesState.message != "",
        rx.callout(SchedulesState.message, color_scheme="red", size="1", id="schedules-message"),
    )


def schedules_page() -> rx.Component:
    return common.shell(
        rx.vstack(
            zone_note(),
            message(),
            rx.cond(
                SchedulesState.items.length() > 0,
                schedules_table(),
                common.empty(
                    "No schedules yet: add one on a workflow's page, with "
                    "`plait schedules create`, or with @g.schedule in code.",
                    icon="calendar-clock",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        title="Schedules",
    )


def create_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(name="cron", placeholder="cron, e.g. 0 9 * * MON-FRI", id="schedule-cron"),
            rx.input(
                name="tz",
                placeholder="time zone",
                default_value=SchedulesState.viewer_tz,
                key=SchedulesState.viewer_tz,
                id="schedule-tz",
            ),
            rx.input(name="inputs", placeholder='inputs {"key": "value"}', id="schedule-inputs"),
            rx.select(
                ["skip", "allow", "queue_one"], default_value="skip", name="overlap", size="2"
            ),
            rx.button(rx.icon("calendar-plus", size=14), "Add schedule", type="submit"),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.text(
            SchedulesState.form_message,
            size="2",
            color_scheme="red",
            class_name="plait-schedule-form-message",
        ),
        on_submit=SchedulesState.create,
        reset_on_submit=False,
        width="100%",
        id="schedule-form",
    )


def workflow_schedules() -> rx.Component:
    """The section of a workflow page."""
    return common.section(
        rx.hstack(
            rx.text("Schedules"),
            rx.link("all schedules", href="/schedules", size="2"),
            spacing="2",
            align="baseline",
        ),
        zone_note(),
        message(),
        rx.cond(
            SchedulesState.items.length() > 0,
            schedules_table(show_workflow=False),
            rx.text("No schedules.", size="2", color_scheme="gray"),
        ),
        create_form(),
        id="workflow-schedules",
    )
