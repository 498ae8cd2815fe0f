"""Catalogue queries: what the store holds, summarised for people (the studio's lists and the
REST API). Read-only; every function takes the ``Store`` to ask."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from runtime.errors import NotFound
from runtime.store import Store, tables
from runtime.store.tables import utcnow

RUN_STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled")
TRIGGERS = ("sdk", "cli", "studio", "api", "webhook", "schedule")


@dataclass(frozen=True)
class WorkflowSummary:
    """One workflow as the workflows list shows it."""

    name: str
    description: str
    versions: int
    """How many versions were published."""
    latest_version: str
    latest_version_id: int
    node_count: int
    """Nodes in the latest version."""
    updated_at: dt.datetime
    """When the latest version was published."""
    last_run_id: str | None
    last_run_status: str | None
    last_run_at: dt.datetime | None
    runs_last_day: int


@dataclass(frozen=True)
class VersionInfo:
    """One published version of a workflow."""

    id: int
    version: str
    created_at: dt.datetime
    node_count: int
    runs: int


@dataclass(frozen=True)
class RunRow:
    """One run as lists show it."""

    id: str
    workflow: str
    version: str
    version_id: int
    status: str
    trigger: str
    owner: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (to now while it is still going)."""
        if self.started_at is None:
            return None
        return ((self.ended_at or utcnow()) - self.started_at).total_seconds()


def workflows(store: Store, *, now: dt.datetime | None = None) -> list[WorkflowSummary]:
    """Every workflow with its latest version and recent activity, by name."""
    wf, wv, r = tables.workflow, tables.workflow_version, tables.run
    since = (now or utcnow()) - dt.timedelta(days=1)
    latest = (
        sa.select(
            wv.c.workflow_id,
            sa.func.max(wv.c.id).label("version_id"),
            sa.func.count().label("versions"),
        )
        .group_by(wv.c.workflow_id)
        .subquery()
    )
    last_at = (
        sa.select(r.c.workflow_id, sa.func.max(r.c.created_at).label("at"))
        .group_by(r.c.workflow_id)
        .subquery()
    )
    recent = (
        sa.select(r.c.workflow_id, sa.func.count().label("n"))
        .where(r.c.created_at >= since)
        .group_by(r.c.workflow_id)
        .subquery()
    )
    query = (
        sa.select(
            wf.c.id,
            wf.c.name,
            latest.c.versions,
            wv.c.id.label("version_id"),
            wv.c.version,
            wv.c.spec,
            wv.c.created_at,
            sa.func.coalesce(recent.c.n, 0).label("recent"),
        )
        .join(latest, latest.c.workflow_id == wf.c.id)
        .join(wv, wv.c.id == latest.c.version_id)
        .outerjoin(recent, recent.c.workflow_id == wf.c.id)
        .order_by(wf.c.name)
    )
    last_runs = (
        sa.select(r.c.workflow_id, r.c.id, r.c.status, r.c.created_at)
        .join(
            last_at, (last_at.c.workflow_id == r.c.workflow_id) & (last_at.c.at == r.c.created_at)
        )
        .order_by(r.c.id)
    )
    with store.read() as conn:
        rows = conn.execute(query).all()
        last = {row.workflow_id: row for row in conn.execute(last_runs)}
    out = []
    for row in rows:
        run = last.get(row.id)
        out.append(
            WorkflowSummary(
                name=row.name,
                description=row.spec.get("description", ""),
                versions=row.versions,
                latest_version=row.version,
                latest_version_id=row.version_id,
                node_count=len(row.spec["nodes"]),
                updated_at=_utc(row.created_at),
                last_run_id=run.id if run else None,
                last_run_status=run.status if run else None,
                last_run_at=_utc(run.created_at) if run else None,
                runs_last_day=row.recent,
            )
        )
    return out


def search(summaries: Sequence[WorkflowSummary], text: str) -> list[WorkflowSummary]:
    """Workflows whose name or description contains every word of ``text`` (any case)."""
    words = text.lower().split()
    return [s for s in summaries if all(w in f"{s.name}\n{s.description}".lower() for w in words)]


def versions(store: Store, workflow: str) -> list[VersionInfo]:
    """A workflow's versions, newest first; ``NotFound`` names the known workflows."""
    wv, r = tables.workflow_version, tables.run
    workflow_id = workflow_id_of(store, workflow)
    counts = (
        sa.select(r.c.version_id, sa.func.count().label("n"))
        .where(r.c.workflow_id == workflow_id)
        .group_by(r.c.version_id)
        .subquery()
    )
    query = (
        sa.select(wv.c.id, wv.c.version, wv.c.created_at, wv.c.spec, counts.c.n)
        .outerjoin(counts, counts.c.version_id == wv.c.id)
        .where(wv.c.workflow_id == workflow_id)
        .order_by(wv.c.id.desc())
    )
    with store.read() as conn:
        rows = conn.execute(query).all()
    return [
        VersionInfo(row.id, row.version, _utc(row.created_at), len(row.spec["nodes"]), row.n or 0)
        for row in rows
    ]


def workflow_id_of(store: Store, workflow: str) -> int:
    wf = tables.workflow
    with store.read() as conn:
        found = conn.execute(sa.select(wf.c.id).where(wf.c.name == workflow)).scalar()
        if found is None:
            names = conn.execute(sa.select(wf.c.name).order_by(wf.c.name).limit(20)).scalars()
            known = ", ".join(names) or "none yet"
            raise NotFound(f"no workflow named {workflow!r} (workflows: {known})")
    return found


def version(store: Store, workflow: str, version: str | None = None) -> tables.WorkflowVersion:
    """A workflow's version by hash (or unique hash prefix); the latest when ``None``."""
    wv = tables.workflow_version
    workflow_id = workflow_id_of(store, workflow)
    query = sa.select(wv).where(wv.c.workflow_id == workflow_id).order_by(wv.c.id.desc())
    if version:
        query = query.where(wv.c.version.startswith(version, autoescape=True))
    with store.read() as conn:
        rows = conn.execute(query.limit(2)).all()
    if not rows or (version and len(rows) > 1 and rows[0].version != version):
        what = "ambiguous version" if rows else "no version"
        raise NotFound(f"workflow {workflow!r}: {what} {version!r}")
    return tables.WorkflowVersion(**rows[0]._mapping)


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
    r, wf, wv = tables.run, tables.workflow, tables.workflow_version
    conditions: list[Any] = []
    if workflow:
        conditions.append(wf.c.name == workflow)
    if workflows is not None:
        conditions.append(wf.c.name.in_(list(workflows)))
    if owner:
        conditions.append(r.c.owner == owner)
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        conditions.append(r.c.status.in_(statuses))
    if trigger:
        conditions.append(r.c.trigger == trigger)
    page = (
        sa.select(
            r.c.id,
            wf.c.name.label("workflow"),
            wv.c.version,
            r.c.version_id,
            r.c.status,
            r.c.trigger,
            r.c.owner,
            r.c.created_at,
            r.c.started_at,
            r.c.ended_at,
            r.c.error,
        )
        .join(wf, wf.c.id == r.c.workflow_id)
        .join(wv, wv.c.id == r.c.version_id)
        .where(*conditions)
        .order_by(r.c.created_at.desc(), r.c.id)
        .limit(limit)
        .offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(r)
    if workflow or workflows is not None:
        count = count.join(wf, wf.c.id == r.c.workflow_id)
    count = count.where(*conditions)
    with store.read() as conn:
        rows = conn.execute(page).all()
        total = conn.execute(count).scalar_one()
    return [
        RunRow(
            id=row.id,
            workflow=row.workflow,
            version=row.version,
            version_id=row.version_id,
            status=row.status,
            trigger=row.trigger,
            owner=row.owner,
            created_at=_utc(row.created_at),
            started_at=_utc(row.started_at),
            ended_at=_utc(row.ended_at),
            error=row.error,
        )
        for row in rows
    ], total


def _utc(value: dt.datetime | None) -> Any:
    # SQLite hands back naive datetimes from Core queries; they were written as UTC
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def owners(store: Store, limit: int = 200) -> list[str]:
    """Everyone who started a run (users and keys), by name: the runs list's filter."""
    r = tables.run
    query = (
        sa.select(r.c.owner).where(r.c.owner.is_not(None)).distinct().order_by(r.c.owner)
    ).limit(limit)
    with store.read() as conn:
        return [row for row in conn.execute(query).scalars()]
