"""The workflows page: every workflow with its latest version and recent runs; search."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from runtime import catalog
from studio.logic import fmt
from studio.states.base import RESYNC_SECONDS, blocking, client, doorbell, permitted


@dataclass
class WorkflowItem:
    name: str
    description: str
    version: str
    versions: int
    nodes: int
    updated: str
    last_run_id: str
    last_status: str
    last_run: str
    runs_last_day: int
    search_text: str
    href: str
    archived: bool


def workflow_item(s: catalog.WorkflowSummary) -> WorkflowItem:
    return WorkflowItem(
        name=s.name,
        description=s.description,
        version=fmt.short(s.latest_version),
        versions=s.versions,
        nodes=s.node_count,
        updated=fmt.ago(s.updated_at),
        last_run_id=s.last_run_id or "",
        last_status=s.last_run_status or "",
        last_run=fmt.ago(s.last_run_at),
        runs_last_day=s.runs_last_day,
        search_text=f"{s.name}\n{s.description}".lower(),
        href=fmt.workflow_href(s.name),
        archived=s.archived,
    )


def load(archived: bool = False) -> list[WorkflowItem]:
    """The workflows, archived ones too with ``archived``."""
    return [workflow_item(s) for s in catalog.workflows(client().store, archived=archived)]


def matching(items: list[WorkflowItem], text: str) -> list[WorkflowItem]:
    """Items whose name or description holds every word of ``text`` (any case)."""
    words = text.lower().split()
    return [i for i in items if all(w in i.search_text for w in words)]


class WorkflowsState(rx.State):
    items: list[WorkflowItem] = []
    search: str = ""
    loading: bool = True
    show_archived: bool = False

    @rx.var
    def shown(self) -> list[WorkflowItem]:
        return matching(self.items, self.search)

    @rx.event
    def set_search(self, value: str) -> None:
        self.search = value

    async def set_show_archived(self, value: bool) -> None:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        self.show_archived = bool(value)
        self.items = await blocking(load, self.show_archived)

    @rx.event(background=True)
    async def listen(self) -> None:
        """Load, then refresh when runs start or end (last run, runs in the last day)."""
        async with self:
            allowed, _ = await permitted(self, "read", "read workflows")
        if allowed is None:
            return
        async with doorbell() as rang:
            while True:
                async with self:
                    archived = self.show_archived
                items = await blocking(load, archived)
                async with self:
                    if items != self.items:
                        self.items = items
                    self.loading = False
                await rang(RESYNC_SECONDS)
