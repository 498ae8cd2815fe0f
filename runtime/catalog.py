"""The catalogue: what the store holds, summarised for people (the studio's lists and the REST
API). Read-only; every function asks the ``Store`` it is given."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Collection, Sequence

from runtime.errors import InputError
from runtime.statuses import RUN_STATUSES
from runtime.store import Store, tables
from runtime.store.contract import COUNT_CAP, RunRow, VersionInfo, WorkflowSummary
from runtime.store.tables import utcnow

__all__ = ["COUNT_CAP", "RUN_STATUSES", "TRIGGERS", "RunRow", "VersionInfo", "WorkflowSummary"]

TRIGGERS = ("sdk", "cli", "studio", "api", "webhook", "schedule", "draft")
"""How a run was started; ``draft``: a test run of a workflow's draft (``runtime.drafts``)."""


def workflows(
    store: Store, *, now: dt.datetime | None = None, archived: bool = False
) -> list[WorkflowSummary]:
    """Every workflow with its latest version and recent activity, by name; archived ones
    only with ``archived`` (then all of them)."""
    found = store.workflow_summaries(now or utcnow())
    return found if archived else [s for s in found if not s.archived]


def search(summaries: Sequence[WorkflowSummary], text: str) -> list[WorkflowSummary]:
    """Workflows whose name or description contains every word of ``text`` (any case)."""
    words = text.lower().split()
    return [s for s in summaries if all(w in f"{s.name}\n{s.description}".lower() for w in words)]


def versions(store: Store, workflow: str) -> list[VersionInfo]:
    """A workflow's versions, newest first; ``NotFound`` names the known workflows."""
    return store.version_infos(workflow)


def version(store: Store, workflow: str, version: str | None = None) -> tables.WorkflowVersion:
    """A workflow's version by hash (or unique hash prefix); the current one when ``None``."""
    return store.find_version(workflow, version)


def shown_sources(version: tables.WorkflowVersion) -> dict[str, str]:
    """A version's recorded node sources as a person may read them: secret-looking text
    replaced (``runtime.redaction``)."""
    from runtime.redaction import DEFAULT

    return {name: DEFAULT.text(text) for name, text in (version.node_sources or {}).items()}


def node_source(store: Store, workflow: str, version: str | None, node: str) -> str | None:
    """The source text of the code ``node`` runs in a version (the current one when
    ``version`` is ``None``), secret-looking text replaced (``runtime.redaction``); ``None``
    when the version recorded none for it (a library node, a version stored before sources
    were kept). ``NotFound`` for an unknown workflow or version."""
    return shown_sources(store.find_version(workflow, version)).get(node)


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
    after: str | None = None,
) -> tuple[list[RunRow], int]:
    """One page of runs, newest first, and how many match (up to ``COUNT_CAP + 1``: see
    ``Store.run_page``). ``after``: the ``cursor`` of the previous page's last row.
    ``owner``: who started them; ``workflows``: only runs of these (an API key's reach)."""
    return store.run_page(
        workflow=workflow,
        status=status,
        trigger=trigger,
        owner=owner,
        workflows=workflows,
        limit=limit,
        offset=offset,
        after=None if after is None else parse_cursor(after),
    )


def cursor(row: RunRow) -> str:
    """Where the page after ``row`` starts: opaque to callers, stable across requests."""
    text = f"{row.created_at.astimezone(dt.UTC).isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse_cursor(text: str) -> tuple[dt.datetime, str]:
    """A ``cursor``'s position; ``InputError`` naming it for anything else."""
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, run_id = decoded.split("|")
        at = dt.datetime.fromisoformat(stamp)
        if at.tzinfo is None or not run_id.isalnum() or len(run_id) > 32:
            raise ValueError(decoded)
    except ValueError:
        raise InputError(
            f"page cursor {text[:60]!r} is not one this API gave (use a run page's 'next')"
        ) from None
    return at, run_id


def owners(store: Store, limit: int = 200) -> list[str]:
    """Everyone who started a run (users and keys), by name: the runs list's filter."""
    return store.run_owners(limit)
