"""The compare page: two runs of a workflow (``?a=&b=``), picked from its recent runs, and
their diff node by node."""

from __future__ import annotations

from dataclasses import dataclass, field

import reflex as rx

from runtime import catalog
from runtime.compare import diff_runs
from runtime.errors import NotFound
from studio.logic import compare, fmt
from studio.logic.compare import CompareRow, RunChoice
from studio.states.base import blocking, client, permitted

CHOICES = 50
"""Recent runs of the workflow offered as A and B."""


@dataclass
class Loaded:
    """What the page shows for one pair."""

    a: str = ""
    b: str = ""
    workflow: str = ""
    choices: list[RunChoice] = field(default_factory=list)
    rows: list[CompareRow] = field(default_factory=list)
    inputs: list[CompareRow] = field(default_factory=list)
    heading: list[str] = field(default_factory=list)
    summary: str = ""
    error: str = ""


def load(a: str, b: str) -> Loaded:
    """The diff of B against A, filling in A (B's source, or the run before it) or B (the
    newest run) when only one is given."""
    c = client()
    anchor = b or a
    if not anchor:
        return Loaded(error="pick a run to compare: open a run and use Compare with…")
    try:
        run = c.get_run(anchor)
        workflow = run.workflow
        replay_of = getattr(run.record, "replay_of", None)
    except NotFound as exc:
        return Loaded(error=str(exc))
    listed, _ = catalog.runs(c.store, workflow=workflow, limit=CHOICES)
    choices = [compare.choice(r.id, r.status, r.created_at, r.version) for r in listed]
    if anchor not in {ch.id for ch in choices}:
        record = run.record
        choices.append(compare.choice(record.id, record.status, record.created_at))
    if not b:
        b = next((ch.id for ch in choices if ch.id != a), "")
    elif not a:
        a = compare.default_a(b, choices, replay_of)
    out = Loaded(a=a, b=b, workflow=workflow, choices=choices)
    if not a or not b:
        out.error = f"{workflow} has one run only: nothing to compare it with yet"
        return out
    try:
        diff = diff_runs(c.get_run(a), c.get_run(b), redact=True)
    except NotFound as exc:
        out.error = str(exc)
        return out
    out.rows, out.inputs = compare.rows(diff), compare.input_rows(diff)
    out.heading, out.summary = compare.heading(diff), diff.summary()
    return out


class CompareState(rx.State):
    run_a: str = ""
    run_b: str = ""
    workflow: str = ""
    choices: list[RunChoice] = []
    rows: list[CompareRow] = []
    input_rows: list[CompareRow] = []
    heading: list[str] = []
    summary: str = ""
    error: str = ""
    loading: bool = True

    @rx.var
    def workflow_href(self) -> str:
        return fmt.workflow_href(self.workflow) if self.workflow else "/"

    async def load(self) -> None:
        params = self.router.url.query_parameters
        await self._show(params.get("a", ""), params.get("b", ""))

    async def pick_a(self, value: str) -> None:
        await self._show(value, self.run_b)

    async def pick_b(self, value: str) -> None:
        await self._show(self.run_a, value)

    def swap(self) -> None:
        self.run_a, self.run_b = self.run_b, self.run_a
        return CompareState.reload  # type: ignore[return-value]

    async def reload(self) -> None:
        await self._show(self.run_a, self.run_b)

    async def _show(self, a: str, b: str) -> None:
        self.loading = True
        allowed, why = await permitted(self, "read", "read runs")
        if allowed is None:
            self.error, self.loading = why, False
            return
        page = await blocking(load, a, b)
        self.run_a, self.run_b, self.workflow = page.a, page.b, page.workflow
        self.choices, self.rows, self.input_rows = page.choices, page.rows, page.inputs
        self.heading, self.summary, self.error = page.heading, page.summary, page.error
        self.loading = False
