"""The catalogue: what the store holds, summarised for people (the studio's lists and the REST
API). Read-only; every function asks the ``Store`` it is given."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from runtime.store import Store, tables
from runtime.store.contract import RunRow, VersionInfo, WorkflowSummary
from runtime.store.tables import utcnow

__all__ = ["RUN_STATUSES", "TRIGGERS", "RunRow", "VersionInfo", "WorkflowSummary"]

RUN_STATUSES = ("scheduled", "queued", "running", "waiting", "succeeded", "failed", "cancelled")
TRIGGERS = ("sdk", "cli", "studio", "api", "webhook", "schedule")


def workflows(store: Store, *, now: dt.datetime | None = None) -> list[WorkflowSummary]:
    """Every workflow with its latest version and recent activity, by name."""
    return store.workflow_summaries(now or utcnow())


def search(summaries: Sequence[WorkflowSummary], text: str) -> list[WorkflowSummary]:
    """Workflows whose name or description contains every word of ``text`` (any case)."""
    words = text.lower().split()
    return [s for s in summaries if all(w in f"{s.name}\n{s.description}".lower() for w in words)]


def versions(store: Store, workflow: str) -> list[VersionInfo]:
    """A workflow's versions, newest first; ``NotFound`` names the known workflows."""
    return store.version_infos(workflow)


def version(store: Store, workflow: str, version: str | None = None) -> tables.WorkflowVersion:
    """A workflow's version by hash (or unique hash prefix); the latest when ``None``."""
    return store.find_version(workflow, version)


def runs(
    store: Store,
    *,
    workflow: str | None = None,
    status: str | Sequence[str] | None = None,
    trigger: str | None = None,
    owner: str | None = None,
    workflows: Collection[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[RunRow], int]:
    """One page of runs, newest first, and how many match in all. ``owner``: who started
    them; ``workflows``: only runs of these (an API key's reach)."""
    return store.run_page(
        workflow=workflow,
        status=status,
        trigger=trigger,
        owner=owner,
        workflows=workflows,
        limit=limit,
        offset=offset,
    )


def owners(store: Store, limit: int = 200) -> list[str]:
    """Everyone who started a run (users and keys), by name: the runs list's filter."""
    return store.run_owners(limit)
