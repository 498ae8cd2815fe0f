"""What an empty studio says to a newcomer: three ways to a first workflow."""

from __future__ import annotations

import reflex as rx

from studio.logic.templates import PUBLISH_SNIPPET, starters
from studio.states.session import SessionState
from studio.states.templates import TemplatesState


def way(icon: str, title: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=18), rx.heading(title, size="3"), align="center", spacing="2"
            ),
            *children,
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def no_workflows() -> rx.Component:
    """No workflow published yet: start from a template, build one, or publish from a
    notebook (the three lines)."""
    return rx.vstack(
        rx.text("No workflows yet. Three ways to your first one:", size="3", weight="medium"),
        rx.grid(
            way(
                "layout-template",
                "Start from a template",
                *[
                    rx.hstack(
                        rx.vstack(
                            rx.text(t.title, size="2", weight="medium"),
                            rx.text(t.description, size="1", color_scheme="gray"),
                            spacing="0",
                        ),
                        rx.spacer(),
                        rx.button(
                            "Use",
                            size="1",
                            on_click=TemplatesState.use(t.name),
                            disabled=~SessionState.can_write,
                            class_name="plait-use-template",
                            data_template=t.name,
                        ),
                        align="center",
                        width="100%",
                    )
                    for t in starters()
                ],
                rx.cond(
                    TemplatesState.message != "",
                    rx.text(TemplatesState.message, size="1", color_scheme="red"),
                ),
            ),
            way(
                "mouse-pointer-2",
                "Build one",
                rx.text(
                    "Drag nodes from the palette, wire them, test-run, publish.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.link(rx.button("Open the editor", size="1", variant="soft"), href="/editor"),
            ),
            way(
                "notebook-pen",
                "Publish from a notebook",
                rx.el.pre(PUBLISH_SNIPPET, class_name="plait-pre plait-publish-snippet"),
                rx.text(
                    "or run it: g.run() and plait run FILE.py:GRAPH publish too.",
                    size="1",
                    color_scheme="gray",
                ),
            ),
            columns=rx.breakpoints(initial="1", md="3"),
            gap="16px",
            width="100%",
        ),
        spacing="3",
        width="100%",
        id="no-workflows",
    )
