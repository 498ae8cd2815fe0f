"""The runs waiting for someone's input, across every workflow: what the "Waiting for
input" list shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime import catalog
from runtime.store.contract import RunRow, Store
from studio.logic import fmt

LIMIT = 200
"""Waiting runs listed at most (oldest question first)."""


@dataclass(frozen=True)
class WaitingItem:
    """One open question: a wait node of a waiting run."""

    run_id: str
    short_id: str
    workflow: str
    node: str
    question: str
    """The wait's description, else its name."""
    since: str
    """``5 min ago``: how long it has been waiting."""
    href: str
    """The run page, where the wait's form is."""


def open_waits(
    runs: Iterable[RunRow],
    specs: Mapping[int, dict[str, Any]],
    waiting_nodes: Mapping[str, dict[str, dt.datetime | None]],
) -> list[WaitingItem]:
    """Each waiting node of ``runs`` that asks a human (a wait with a schema; a sub-graph
    node waiting for its child is no question), oldest first. ``specs``: version id -> spec;
    ``waiting_nodes``: run id -> its waiting nodes and since when."""
    found: list[tuple[dt.datetime, WaitingItem]] = []
    for run in runs:
        nodes = {n["name"]: n for n in specs[run.version_id]["nodes"]}
        for name, since in waiting_nodes.get(run.id, {}).items():
            node = nodes.get(name)
            if node is None or "schema" not in node:
                continue
            at = since or run.created_at
            item = WaitingItem(
                run_id=run.id,
                short_id=run.id[:12],
                workflow=run.workflow,
                node=name,
                question=first_line(node.get("doc") or "") or name,
                since=fmt.ago(at),
                href=f"/runs/{run.id}",
            )
            found.append((at, item))
    found.sort(key=lambda pair: pair[0])
    return [item for _, item in found]


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def load(store: Store) -> list[WaitingItem]:
    """The open questions of the store's waiting runs (``LIMIT`` runs at most)."""
    runs, _ = catalog.runs(store, status="waiting", limit=LIMIT)
    specs = {v: store.get_version(v).spec for v in {r.version_id for r in runs}}
    waiting: dict[str, dict[str, dt.datetime | None]] = {}
    for run in runs:
        latest: dict[str, Any] = {}
        for row in store.attempts(run.id):
            latest[row.node] = row
        waiting[run.id] = {n: r.started_at for n, r in latest.items() if r.status == "waiting"}
    return open_waits(runs, specs, waiting)
