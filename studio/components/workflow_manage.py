"""The workflow page's actions (open in the editor, export, duplicate, archive, delete) and
the workflows page's Import dialog."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.states.importing import ImportState
from studio.states.session import SessionState
from studio.states.workflow import WorkflowState
from studio.states.workflow_manage import WorkflowManageState

IMPORT_UPLOAD = "import-file"


def _duplicate_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("copy", size=14),
                "Duplicate",
                variant="soft",
                size="1",
                disabled=~SessionState.can_write,
                id="duplicate-workflow",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Duplicate " + WorkflowState.workflow_name),
            rx.dialog.description(
                "A new workflow whose draft copies this one; nothing is published until you "
                "publish it from the editor.",
                size="2",
            ),
            rx.form(
                rx.vstack(
                    rx.input(
                        name="name",
                        placeholder="name of the copy",
                        default_value=WorkflowState.workflow_name + " copy",
                        id="duplicate-name",
                        width="100%",
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        rx.button("Duplicate and edit", type="submit", id="duplicate-confirm"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    margin_top="12px",
                ),
                on_submit=WorkflowManageState.duplicate,
                reset_on_submit=False,
            ),
            rx.text(WorkflowManageState.message, size="2", color_scheme="red"),
        ),
        open=WorkflowManageState.duplicate_open,
        on_open_change=WorkflowManageState.set_duplicate_open,
    )


def _delete_dialog() -> rx.Component:
    return common.confirm(
        rx.button(
            rx.icon("trash-2", size=14),
            "Delete",
            variant="soft",
            color_scheme="red",
            size="1",
            disabled=~SessionState.can_write,
            id="delete-workflow",
        ),
        "Delete " + WorkflowState.workflow_name + "?",
        "Its versions and draft go with it. A workflow that runs, schedules or webhooks "
        "reference cannot be deleted: archive it instead.",
        keep="Keep it",
        act="Delete",
        on_act=WorkflowManageState.delete,
        act_id="delete-confirm",
        open_=WorkflowManageState.delete_open,
        on_open_change=WorkflowManageState.set_delete_open,
    )


def actions() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(
                rx.button(rx.icon("pencil", size=14), "Open in editor", size="1"),
                href=WorkflowState.editor_href,
                id="open-editor",
            ),
            rx.button(
                rx.icon("download", size=14),
                "Export",
                variant="soft",
                size="1",
                on_click=WorkflowManageState.export_version(WorkflowState.version),
                id="export-version",
            ),
            _duplicate_dialog(),
            rx.cond(
                WorkflowState.archived,
                rx.button(
                    rx.icon("archive-restore", size=14),
                    "Restore",
                    variant="soft",
                    size="1",
                    disabled=~SessionState.can_write,
                    on_click=WorkflowManageState.set_archived(False),
                    id="restore-workflow",
                ),
                rx.button(
                    rx.icon("archive", size=14),
                    "Archive",
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                    disabled=~SessionState.can_write,
                    on_click=WorkflowManageState.set_archived(True),
                    id="archive-workflow",
                ),
            ),
            _delete_dialog(),
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(
            WorkflowState.archived,
            rx.badge("archived: hidden from the workflow list", color_scheme="gray"),
        ),
        rx.text(WorkflowManageState.message, size="2", id="workflow-message"),
        spacing="2",
    )


def import_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("upload", size=14),
                "Import",
                variant="soft",
                disabled=~SessionState.can_write,
                id="import-workflow",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Import a workflow"),
            rx.dialog.description(
                "A file written by Export or `plait export`. Published as it was (it keeps "
                "its version hash), or saved as a draft to edit first.",
                size="2",
            ),
            rx.vstack(
                rx.upload(
                    rx.vstack(
                        rx.icon("file-json", size=20),
                        rx.text("Drop the .json file here, or click to choose it", size="2"),
                        align="center",
                    ),
                    id=IMPORT_UPLOAD,
                    accept={"application/json": [".json"]},
                    max_files=1,
                    on_drop=ImportState.upload(rx.upload_files(upload_id=IMPORT_UPLOAD)),
                    border="1px dashed var(--gray-a7)",
                    padding="20px",
                    width="100%",
                ),
                rx.checkbox(
                    "Save as a draft (do not publish)",
                    checked=ImportState.as_draft,
                    on_change=ImportState.set_as_draft,
                    id="import-as-draft",
                ),
                rx.text(ImportState.message, size="2", color_scheme="red", id="import-message"),
                rx.hstack(
                    rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                margin_top="12px",
            ),
        ),
        open=ImportState.open,
        on_open_change=ImportState.set_open,
    )
