"""The top bar's search dialog (Ctrl+K)."""

from __future__ import annotations

import reflex as rx

from studio.logic import search
from studio.states.base import blocking, client, permitted


class SearchState(rx.State):
    open: bool = False
    query: str = ""
    hits: list[search.Hit] = []
    searched: bool = False
    """A query was looked up (so "nothing found" may be said)."""

    def set_open(self, value: bool) -> None:
        self.open = value
        if not value:
            self.query, self.hits, self.searched = "", [], False

    @rx.event
    async def set_query(self, value: str) -> None:
        self.query = value
        allowed, _ = await permitted(self, "read", "search")
        if allowed is None:
            self.hits, self.searched = [], False
            return
        found = await blocking(search.search, client().store, value)
        if self.query == value:  # a later keystroke's answer wins
            self.hits, self.searched = found, bool(value.strip())
