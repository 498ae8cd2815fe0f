"""Everything the run page displays about a run's progress, computed from its spec and its
events, handing out only what changed since the last render (each value handed out is sent
whole to the browser, so an unchanged one must not be)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runtime import redaction
from runtime.redaction import Redactor
from runtime.statuses import (
    NODE_COUNTED,
    NODE_DONE,
    NODE_PROGRESS_NAMED,
    label,
    spec_deps,
    untaken_nodes,
)
from runtime.store.tables import EventDict
from studio import theme
from studio.logic import fmt, forms, layout, live, maps


@dataclass
class RunPage:
    spec: dict[str, Any]
    direction: layout.Direction
    view: live.RunView
    placed: list[layout.Placed]
    order: list[str]
    shown: dict[str, Any] = field(default_factory=dict)
    """The values last handed out."""
    redactor: Redactor = field(default_factory=Redactor)
    """What the events say (a run's error) passes through it."""

    @classmethod
    def create(
        cls,
        spec: dict[str, Any],
        direction: layout.Direction | None = None,
        redactor: Redactor = redaction.DEFAULT,
    ) -> RunPage:
        direction = direction or layout.auto_direction(spec)
        order = [n["name"] for n in spec["nodes"]]
        placed = layout.place(spec, direction)
        return cls(spec, direction, live.new_view(order), placed, order, redactor=redactor)

    def apply(self, events: Iterable[EventDict]) -> set[str]:
        """Apply stored events (streamed text is ignored: see ``apply_tokens``); returns
        the nodes whose stored state changed."""
        return live.apply(self.view, events)

    def apply_tokens(self, events: Iterable[EventDict]) -> set[str]:
        """Fold streamed LLM text in; returns the nodes whose text grew."""
        return live.apply_tokens(self.view, events)

    def stream_text(self, node: str) -> str:
        """What ``node`` has streamed so far in its running attempt (redacted), else ``""``."""
        return self.redactor.text(self.view.streams.of(node))

    def turn(self, direction: layout.Direction) -> None:
        self.direction = direction
        self.placed = layout.place(self.spec, direction)

    def render(
        self, selected: str = "", now: float | None = None, query: str = ""
    ) -> dict[str, Any]:
        """The page's values that differ from the last render (``query``: the graph's
        node search)."""
        view = self.view
        statuses = view.statuses
        timeline = live.timeline(view, self.order, now)
        untaken = untaken_nodes(spec_deps(self.spec), statuses)
        values: dict[str, Any] = {
            "direction": self.direction,
            "flow_nodes": layout.flow_nodes(
                self.placed,
                statuses,
                selected,
                self.direction,
                untaken,
                {name: p.text for name, p in view.maps.items()},
                view.streams.streaming,
                query,
            ),
            "flow_edges": layout.flow_edges(self.spec, statuses),
            "timeline_rows": timeline.rows,
            "timeline_span": timeline.span,
            "run_status": view.status,
            "wake": live.wake_label(view.status, view.wake_at),
            "error": self.redactor.text(view.error or ""),
            # a cancel asked for is no longer news once the run has ended
            "cancel_requested": view.cancel_requested and not view.finished,
            "last_seq": view.last_seq,
            "progress": progress(statuses),
            "status_counts": status_counts(statuses),
            "maps": maps.lines(view.maps, self.redactor),
            "waiting": [n for n in self.order if statuses.get(n) == "waiting"],
        }
        if view.started_at is not None and view.status != "waiting":
            end = view.ended_at if view.ended_at is not None else view.last_at
            values["elapsed"] = fmt.duration((end or view.started_at) - view.started_at)
        changed = {k: v for k, v in values.items() if self.shown.get(k, _UNSET) != v}
        self.shown.update(changed)
        if "waiting" in changed:
            changed["waits"] = self.wait_forms(changed.pop("waiting"))
        return changed

    def wait_forms(self, waiting: list[str]) -> list[forms.WaitForm]:
        nodes = {n["name"]: n for n in self.spec["nodes"]}
        return [
            forms.wait_form(name, nodes[name].get("schema", {}), nodes[name].get("doc", ""))
            for name in waiting
            if "schema" in nodes[name]
        ]


_UNSET = object()


def progress(statuses: dict[str, str]) -> str:
    """``12 of 300 nodes done · 1 running``."""
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    done = sum(counts.get(s, 0) for s in NODE_DONE)
    parts = [f"{done} of {len(statuses)} nodes done"]
    parts += [f"{counts[s]} {label(s)}" for s in NODE_PROGRESS_NAMED if counts.get(s)]
    return " · ".join(parts)


COUNTED = NODE_COUNTED
"""The node statuses the run page counts, each on its own, in this order."""


@dataclass(frozen=True)
class StatusCount:
    """One status of the run page's counts (and its legend entry)."""

    status: str
    """The node status, e.g. ``skipped``."""
    text: str
    """``3 skipped``: said in words, so no one needs the colour."""
    count: int
    colour: str
    """The fill the graph draws nodes of this status with."""
    icon: str
    """A Lucide icon name, distinct per status."""


def status_counts(statuses: dict[str, str]) -> list[StatusCount]:
    """Every status some node is in, counted separately (``2 succeeded``, ``1 skipped``,
    ``1 cancelled``, ``4 pending``), in ``COUNTED`` order; unknown statuses last."""
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    order = [s for s in COUNTED if s in counts] + sorted(set(counts) - set(COUNTED))
    return [
        StatusCount(
            s,
            f"{counts[s]} {label(s)}",
            counts[s],
            theme.status_colour(s),
            theme.STATUS_ICONS.get(s, "circle"),
        )
        for s in order
    ]
