"""The top bar's search (Ctrl+K): workflows by name, runs by id prefix, nodes by name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from runtime import catalog
from runtime.store.contract import Store
from studio.logic import fmt

MIN_RUN_PREFIX = 4
"""Hex digits a run id prefix needs before it is looked up (fewer match too many)."""
LIMIT = 8
"""Hits per kind."""


@dataclass(frozen=True)
class Hit:
    kind: str
    """``workflow``, ``run`` or ``node``."""
    text: str
    detail: str
    href: str


def is_run_prefix(text: str) -> bool:
    return len(text) >= MIN_RUN_PREFIX and not text.strip("0123456789abcdef")


def hits(
    query: str, nodes_by_workflow: Mapping[str, Iterable[str]], run_ids: Iterable[str]
) -> list[Hit]:
    """Workflows whose name holds ``query`` (any case), then the runs given (found by
    prefix), then nodes whose name holds it: ``LIMIT`` of each."""
    text = query.strip().lower()
    if not text:
        return []
    workflows = [w for w in nodes_by_workflow if text in w.lower()][:LIMIT]
    out = [Hit("workflow", w, "workflow", fmt.workflow_href(w)) for w in workflows]
    out += [Hit("run", r[:12], "run " + r, f"/runs/{r}") for r in list(run_ids)[:LIMIT]]
    nodes = [
        Hit("node", n, "node of " + w, fmt.workflow_href(w))
        for w, names in nodes_by_workflow.items()
        for n in names
        if text in n.lower()
    ]
    return out + nodes[:LIMIT]


def search(store: Store, query: str) -> list[Hit]:
    """``hits`` over the store: every workflow's latest version, run ids by prefix."""
    text = query.strip().lower()
    if not text:
        return []
    nodes = {
        s.name: [n["name"] for n in store.get_version(s.latest_version_id).spec["nodes"]]
        for s in catalog.workflows(store)
    }
    runs = store.run_ids_starting(text, LIMIT) if is_run_prefix(text) else []
    return hits(text, nodes, runs)


def unique_run(store: Store, prefix: str) -> str | None:
    """The one run whose id starts with ``prefix`` (the short ids tables show), else
    ``None`` (none, or more than one)."""
    text = prefix.strip().lower()
    if not is_run_prefix(text):
        return None
    found = store.run_ids_starting(text, 2)
    return found[0] if len(found) == 1 else None
