"""The workflow editor: palette, canvas, and the side panel (node config, run inputs,
problems, test run)."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.components import editor as parts
from studio.components.editor_canvas import editor_canvas
from studio.states.editor import EditorState


def editor_page() -> rx.Component:
    return common.shell(
        rx.vstack(
            # a phone reads runs, but palette, canvas and panel need a desktop's width
            rx.callout(
                "The editor needs a desktop-width screen: open it on a computer.",
                icon="monitor",
                color_scheme="amber",
                display=rx.breakpoints(initial="flex", md="none"),
                width="100%",
                id="editor-needs-desktop",
            ),
            parts.toolbar(),
            rx.cond(
                EditorState.conflict != "",
                rx.callout(
                    rx.hstack(
                        rx.text(EditorState.conflict),
                        rx.button("Reload", on_click=EditorState.load, size="1"),
                        align="center",
                    ),
                    color_scheme="red",
                    id="draft-conflict",
                    width="100%",
                ),
            ),
            rx.cond(
                EditorState.read_only,
                rx.callout(
                    rx.hstack(
                        rx.text(EditorState.banner, id="editor-readonly-text"),
                        rx.cond(
                            EditorState.can_open_draft,
                            rx.button(
                                "Open as draft",
                                on_click=EditorState.open_as_draft,
                                size="1",
                                id="open-as-draft",
                            ),
                        ),
                        align="center",
                    ),
                    icon="lock",
                    color_scheme="amber",
                    id="editor-readonly",
                    width="100%",
                ),
            ),
            rx.cond(
                EditorState.note != "",
                rx.text(EditorState.note, size="1", color_scheme="gray", id="editor-note"),
            ),
            rx.hstack(
                parts.palette(),
                rx.box(
                    editor_canvas(
                        nodes=EditorState.flow_nodes,
                        edges=EditorState.flow_edges,
                        fit=EditorState.fit,
                        focus=EditorState.focus,
                        read_only=EditorState.read_only,
                        on_moved=EditorState.moved,
                        on_connect_nodes=EditorState.connect_nodes,
                        on_drop_kind=EditorState.drop_kind,
                        on_select_items=EditorState.select_items,
                        on_key=EditorState.key,
                    ),
                    flex="1",
                    height="100%",
                    id="canvas",
                    **parts.PANEL,
                ),
                parts.side_panel(),
                width="100%",
                height="calc(100vh - 150px)",
                min_height="480px",
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
        max_width="100%",
    )
