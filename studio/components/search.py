"""The top bar's search: a button (and Ctrl+K / Cmd+K) opening a dialog that finds
workflows, runs by id prefix, and nodes."""

from __future__ import annotations

import reflex as rx

from studio.logic.search import Hit
from studio.states.search import SearchState

SHORTCUT = """
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
    e.preventDefault();
    document.getElementById('search-open')?.click();
  }
});
"""
"""Ctrl+K anywhere opens the search (a document listener: no component has the focus)."""


def hit_row(hit: rx.Var[Hit]) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.badge(hit.kind, variant="soft", color_scheme="gray"),
            rx.text(hit.text, size="2", weight="medium"),
            rx.text(hit.detail, size="1", color_scheme="gray", truncate=True),
            align="center",
            spacing="2",
        ),
        href=hit.href,
        underline="none",
        on_click=SearchState.set_open(False),  # type: ignore[func-returns-value]
        class_name="plait-search-hit",
        data_kind=hit.kind,
        width="100%",
        padding="4px 6px",
    )


def search_box() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("search", size=14),
                "Search",
                rx.code("Ctrl K", size="1", variant="ghost"),
                variant="soft",
                color_scheme="gray",
                size="1",
                id="search-open",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Search", size="3"),
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                placeholder="a workflow, a run id (first 4+ characters) or a node",
                value=SearchState.query,
                on_change=SearchState.set_query.debounce(150),  # type: ignore[attr-defined]
                auto_focus=True,
                id="search-query",
            ),
            rx.vstack(
                rx.foreach(SearchState.hits, hit_row),
                rx.cond(
                    SearchState.searched & (SearchState.hits.length() == 0),
                    rx.text("Nothing found.", size="2", color_scheme="gray"),
                ),
                spacing="1",
                margin_top="12px",
                width="100%",
                id="search-hits",
            ),
            max_width="560px",
        ),
        open=SearchState.open,
        on_open_change=SearchState.set_open,
    )
