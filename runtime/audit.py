"""The audit log: who did what, when, from where, for every admin action and every request
that changes state (REST, studio, CLI), allowed or not. Entries never hold a secret: callers
give names and ids, never values."""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from runtime.store import Store, tables
from runtime.store.tables import utcnow

Outcome = Literal["ok", "denied", "failed"]


@dataclass(frozen=True)
class Entry:
    id: int
    at: dt.datetime
    actor: str | None
    action: str
    target: str | None
    address: str | None
    outcome: str
    detail: dict[str, Any]


def cli_actor() -> str:
    """Who a command line run on the server's machine acts as."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (a container without passwd entry)
        return "cli"


def record(
    store: Store,
    action: str,
    *,
    actor: str | None,
    target: str | None = None,
    address: str | None = None,
    outcome: Outcome = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    with store.write() as conn:
        conn.execute(
            sa.insert(tables.audit_log).values(
                at=utcnow(),
                actor=(actor or None) and actor[:200],
                action=action[:80],
                target=(target or None) and target[:300],
                address=(address or None) and address[:64],
                outcome=outcome,
                detail=detail or {},
            )
        )


def entries(
    store: Store,
    *,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Entry], int]:
    """Newest first, and how many match in all."""
    log = tables.audit_log
    conditions = []
    if actor:
        conditions.append(log.c.actor == actor)
    if action:
        conditions.append(log.c.action.startswith(action, autoescape=True))
    query = (
        sa.select(log)
        .where(*conditions)
        .order_by(log.c.at.desc(), log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(log).where(*conditions)
    with store.read() as conn:
        rows = conn.execute(query).all()
        total = conn.execute(count).scalar_one()
    out = [
        Entry(
            r.id,
            r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC),
            r.actor,
            r.action,
            r.target,
            r.address,
            r.outcome,
            r.detail or {},
        )
        for r in rows
    ]
    return out, total
