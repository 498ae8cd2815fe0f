"""The runs page: every run, filtered and paginated, kept current while the page is open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import reflex as rx

from runtime import catalog
from runtime.statuses import RUN_PARKED, parked_label
from studio.logic import compare, fmt, urls
from studio.states.base import RESYNC_SECONDS, blocking, client, doorbell, permitted

ALL = urls.ALL
PAGE_SIZE = 50


@dataclass
class RunItem:
    """A run as a row of a list."""

    id: str
    short_id: str
    workflow: str
    workflow_href: str
    version: str
    status: str
    trigger: str
    owner: str
    created: str
    ago: str
    duration: str
    error: str
    cursor: str
    """Where the page after this row starts."""
    wake: str = ""
    """``until 14:05:00 UTC`` for a sleeping run (or one waiting with a timeout)."""


def run_item(row: catalog.RunRow) -> RunItem:
    return RunItem(
        id=row.id,
        short_id=row.id[:12],
        workflow=row.workflow,
        workflow_href=fmt.workflow_href(row.workflow),
        version=fmt.short(row.version),
        status=row.status,
        trigger=row.trigger,
        owner=row.owner or "",
        created=fmt.timestamp(row.created_at),
        ago=fmt.ago(row.created_at),
        duration=fmt.duration(row.duration),
        error=(row.error or "")[:200],
        cursor=catalog.cursor(row),
        wake=wake_text(row.status, row.wake_at),
    )


def wake_text(status: str, wake_at: dt.datetime | None) -> str:
    if status not in RUN_PARKED or wake_at is None:
        return ""
    return parked_label(status, wake_at).removeprefix(status).strip()


@dataclass
class Filters:
    workflow: str = ALL
    status: str = ALL
    trigger: str = ALL
    page: int = 0
    owner: str = ALL
    after: str | None = None
    """The last row's cursor of the page before ``page`` (keyset pagination: page 10,000 is
    as fast as page 1); without it, ``page`` counts from the top."""

    def query(self) -> dict[str, object]:
        return {
            "workflow": None if self.workflow == ALL else self.workflow,
            "status": None if self.status == ALL else self.status,
            "trigger": None if self.trigger == ALL else self.trigger,
            "owner": None if self.owner == ALL else self.owner,
            "limit": PAGE_SIZE,
            "offset": 0 if self.after else self.page * PAGE_SIZE,
            "after": self.after,
        }


def load_page(filters: Filters) -> tuple[list[RunItem], int, list[str], list[str]]:
    """One page of runs, the total matching, every workflow name and everyone who started a
    run (for the filters)."""
    c = client()
    rows, total = catalog.runs(c.store, **filters.query())  # type: ignore[arg-type]
    names = [w.name for w in c.store.workflows()]
    return [run_item(r) for r in rows], total, names, catalog.owners(c.store)


def page_label(page: int, shown: int, total: int) -> str:
    """``51-100 of 2,345`` (``of 10,000+`` past what the store counts)."""
    if not total or not shown:
        return "no runs"
    first = page * PAGE_SIZE + 1
    last = first + shown - 1
    of = f"{catalog.COUNT_CAP:,}+" if total > catalog.COUNT_CAP else f"{total:,}"
    return f"{first:,}-{last:,} of {of}"


class RunsState(rx.State):
    rows: list[RunItem] = []
    total: int = 0
    page: int = 0
    workflow_filter: str = ALL
    status_filter: str = ALL
    trigger_filter: str = ALL
    owner_filter: str = ALL
    workflow_names: list[str] = []
    owner_names: list[str] = []
    loading: bool = True
    cursors: list[str] = []
    """For each page before this one, the cursor its last row gave (``page`` of them)."""

    @rx.var
    def page_label(self) -> str:
        return page_label(self.page, len(self.rows), self.total)

    @rx.var
    def has_next(self) -> bool:
        return len(self.rows) == PAGE_SIZE and (self.page + 1) * PAGE_SIZE < self.total

    @rx.var
    def compare_href(self) -> str:
        """The compare page of the newest run listed against the one before it."""
        return compare.compare_href("", self.rows[0].id) if self.rows else ""

    @rx.var
    def workflow_options(self) -> list[str]:
        return [ALL, *self.workflow_names]

    @rx.var
    def owner_options(self) -> list[str]:
        return [ALL, *self.owner_names]

    def _filters(self) -> Filters:
        return Filters(
            self.workflow_filter,
            self.status_filter,
            self.trigger_filter,
            self.page,
            self.owner_filter,
            (self.cursors[-1] if self.cursors else "") or None,
        )

    def _show(self, page: tuple[list[RunItem], int, list[str], list[str]]) -> None:
        rows, total, names, owners = page
        if owners != self.owner_names:
            self.owner_names = owners
        if rows != self.rows:
            self.rows = rows
        if total != self.total:
            self.total = total
        if names != self.workflow_names:
            self.workflow_names = names
        self.loading = False

    def _query(self) -> urls.RunsQuery:
        return urls.RunsQuery(
            self.workflow_filter,
            self.status_filter,
            self.trigger_filter,
            self.owner_filter,
            self.page,
            self.cursors[-1] if self.cursors else "",
        )

    def _apply(self, query: urls.RunsQuery) -> None:
        self.workflow_filter, self.status_filter = query.workflow, query.status
        self.trigger_filter, self.owner_filter = query.trigger, query.owner
        self.cursors = urls.known_cursors(self.cursors, query.page, query.after)
        self.page = query.page

    @rx.event(background=True)
    async def listen(self) -> None:
        """Load the page the address asks for (filters, page), then reload it whenever a
        run starts, moves or ends. A filter or page change is a navigation to its address,
        which starts this again: Back goes back to the previous filters."""
        async with self:
            query = urls.runs_query(self.router.url.query_parameters)
            if query != self._query() or not self.rows:
                self._apply(query)
                self.loading = True
            allowed, _ = await permitted(self, "read", "read runs")
        if allowed is None:
            return
        async with doorbell() as rang:
            while True:
                async with self:
                    filters = self._filters()
                page = await blocking(load_page, filters)
                async with self:
                    # a filter changed meanwhile: that handler shows its own page
                    if self._filters() == filters:
                        self._show(page)
                await rang(RESYNC_SECONDS)

    def _go(self, query: urls.RunsQuery) -> Any:
        """Take ``query`` (the selects show it at once) and go to its address: a new
        history entry, and the listener that navigation starts loads its rows."""
        if query == self._query():
            return None
        self._apply(query)
        return rx.redirect(urls.runs_href(query))

    def set_workflow_filter(self, value: str) -> Any:
        return self._go(self._query().filtered("workflow", value))

    def set_status_filter(self, value: str) -> Any:
        return self._go(self._query().filtered("status", value))

    def set_trigger_filter(self, value: str) -> Any:
        return self._go(self._query().filtered("trigger", value))

    def set_owner_filter(self, value: str) -> Any:
        return self._go(self._query().filtered("owner", value))

    def next_page(self) -> Any:
        if not (self.has_next and self.rows):
            return None
        self.cursors = [*self.cursors, self.rows[-1].cursor]
        self.page += 1
        return rx.redirect(urls.runs_href(self._query()))

    def previous_page(self) -> Any:
        if self.page <= 0:
            return None
        self.cursors = self.cursors[:-1]
        self.page -= 1
        return rx.redirect(urls.runs_href(self._query()))
