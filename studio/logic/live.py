"""A run as the run page sees it, built from its events alone: node statuses, attempts with
start and end times (the timeline), the run's own status, and the text LLM nodes are
streaming.

``apply`` takes events in ``seq`` order and ignores any it has already seen, so a burst can
be applied in one go and a replayed event changes nothing. ``apply_tokens`` folds streamed
text (``node.tokens``, never stored, seq 0) in (``runtime.live_text``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.live_text import StreamedText
from runtime.mapview import MapProgress
from runtime.statuses import (
    NODE_ATTEMPT_ENDS,
    NODE_EVENT_STATUS,
    NODE_OPEN,
    NODE_PARKED,
    RUN_FINISHED,
    RUN_PARKED,
    RUN_STATUSES,
    event_node_status,
    node_status_after_run_end,
    parked_label,
)
from runtime.store.tables import EventDict
from studio import theme
from studio.logic import fmt

RUN_LEVEL = ""
"""Name under which ``apply`` reports a change of the run itself."""


@dataclass
class Attempt:
    """One attempt of one node."""

    number: int
    start: float | None
    end: float | None = None
    status: str = "running"


@dataclass
class NodeState:
    status: str = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    retry_at: float | None = None
    """When a ``retrying`` node's next attempt starts (Unix time)."""
    wake_at: float | None = None
    """When a ``sleeping`` node wakes, or a ``waiting`` one times out (Unix time)."""


@dataclass
class RunView:
    """What the events of one run have said so far."""

    status: str = "queued"
    nodes: dict[str, NodeState] = field(default_factory=dict)
    last_seq: int = 0
    first_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    last_at: float | None = None
    error: str | None = None
    cancel_requested: bool = False
    maps: dict[str, MapProgress] = field(default_factory=dict)
    """Map node -> how far its elements are (``map.progress`` events)."""
    wake_at: float | None = None
    """When a parked run is queued again (Unix time)."""
    streams: StreamedText = field(default_factory=StreamedText)
    """LLM nodes' text streaming in (none of it stored)."""

    def node(self, name: str) -> NodeState:
        return self.nodes.setdefault(name, NodeState())

    @property
    def statuses(self) -> dict[str, str]:
        return {name: n.status for name, n in self.nodes.items()}

    @property
    def finished(self) -> bool:
        return self.status in RUN_FINISHED


def new_view(node_names: Iterable[str]) -> RunView:
    return RunView(nodes={name: NodeState() for name in node_names})


def apply(view: RunView, events: Iterable[EventDict]) -> set[str]:
    """Apply events newer than the view; returns the names of the nodes that changed
    (``RUN_LEVEL`` when the run's own state did)."""
    changed: set[str] = set()
    for event in sorted(events, key=lambda e: e["seq"]):
        if event["seq"] <= view.last_seq:
            continue
        view.last_seq = event["seq"]
        at = event["at"]
        view.first_at = at if view.first_at is None else view.first_at
        view.last_at = at
        kind, name, data = event["type"], event["node"], event["data"]
        if kind.startswith("run."):
            _apply_run(view, kind.removeprefix("run."), data, at)
            changed.add(RUN_LEVEL)
            if kind == "run.retried":
                for node in data.get("restart", []):
                    view.node(node).status = "pending"
                    changed.add(node)
                view.streams.restart(data.get("restart", []))
            elif view.finished:
                changed |= _close_open(view, at) | view.streams.close()
        elif kind in NODE_EVENT_STATUS and name:
            node = view.node(name)
            attempt = _apply_node(node, kind, data, at)
            view.streams.node_status(name, node.status, attempt)
            changed.add(name)
        elif kind == "map.progress" and name:
            view.maps.setdefault(name, MapProgress()).fold(data)
            changed.add(name)
    return changed


def apply_tokens(view: RunView, events: Iterable[EventDict]) -> set[str]:
    """Fold streamed text in (other events are ignored); returns the nodes whose text
    grew."""
    return {e["node"] for e in events if view.streams.add(e) and e["node"]}


def _apply_run(view: RunView, what: str, data: Mapping[str, Any], at: float) -> None:
    if what == "cancel_requested":
        view.cancel_requested = True
        return
    status = data.get("status") or (what if what in RUN_STATUSES else None)
    if status is None:
        return  # run.stalled and the like: no change of status
    view.status = status
    view.wake_at = _unix(data.get("wake_at"))
    if what == "retried":
        view.ended_at, view.error, view.cancel_requested = None, None, False
    if what == "running" and view.started_at is None:
        view.started_at = at
    if view.finished:
        view.ended_at = at
        view.error = data.get("error")


def _apply_node(node: NodeState, kind: str, data: Mapping[str, Any], at: float) -> int:
    """Returns the attempt the event is of."""
    status = event_node_status(kind, data)
    number = int(data.get("attempt") or len(node.attempts) or 1)
    last = node.attempts[-1] if node.attempts else None
    node.retry_at = None
    node.wake_at = _unix(data.get("wake_at"))
    if status in NODE_OPEN:
        node.attempts.append(Attempt(number, at, None, status))
    elif status in NODE_ATTEMPT_ENDS:
        if last is None or last.end is not None:
            last = Attempt(number, at)
            node.attempts.append(last)
        last.end = at
        last.status = "failed" if status == "retrying" else status
        if status == "retrying":
            node.retry_at = data.get("retry_at") or at
    node.status = status
    return number


def _unix(iso: Any) -> float | None:
    """An event's ISO 8601 ``wake_at`` as Unix time."""
    return dt.datetime.fromisoformat(iso).timestamp() if isinstance(iso, str) else None


def wake_label(status: str, wake_at: float | None) -> str:
    """``sleeping until 14:05:00 UTC`` for a parked status with a wake time, else ``""``."""
    if status not in RUN_PARKED | NODE_PARKED or wake_at is None:
        return ""
    return parked_label(status, dt.datetime.fromtimestamp(wake_at, dt.UTC))


def _close_open(view: RunView, at: float) -> set[str]:
    """A finished run leaves no node running, waiting or retrying (the store does the same)."""
    changed = set()
    for name, node in view.nodes.items():
        after = node_status_after_run_end(node.status, view.status)
        if after != node.status:
            node.status, node.retry_at, node.wake_at = after, None, None
            if node.attempts and node.attempts[-1].end is None:
                node.attempts[-1].end = at
                node.attempts[-1].status = after
            changed.add(name)
    return changed


# -- timeline ---------------------------------------------------------------------------------


@dataclass
class Bar:
    """One attempt drawn on the timeline; offsets are CSS percentages of the run's span."""

    left: str
    width: str
    colour: str
    title: str


@dataclass
class TimelineRow:
    node: str
    status: str
    attempts: int
    duration: str
    bars: list[Bar]


@dataclass
class Timeline:
    rows: list[TimelineRow]
    span: str
    """How long the timeline covers, e.g. ``12.4 s``."""


def timeline(view: RunView, order: Iterable[str], now: float | None = None) -> Timeline:
    """A Gantt chart of attempts, one row per node that has started, in ``order``."""
    starts = [a.start for n in view.nodes.values() for a in n.attempts if a.start is not None]
    if not starts:
        return Timeline([], "")
    t0 = min(starts)
    ends = [a.end for n in view.nodes.values() for a in n.attempts if a.end is not None]
    open_ = any(a.end is None for n in view.nodes.values() for a in n.attempts)
    t1 = max([*ends, *starts, view.last_at or t0])
    if open_ and not view.finished:
        t1 = max(t1, now if now is not None else time.time())
    span = max(t1 - t0, 1e-3)
    rows = []
    for name in order:
        node = view.nodes.get(name)
        if node is None or not node.attempts:
            continue
        bars = []
        for a in node.attempts:
            start = a.start if a.start is not None else t0
            end = a.end if a.end is not None else t1
            bars.append(
                Bar(
                    left=f"{(start - t0) / span * 100:.3f}%",
                    width=f"{max(end - start, 0) / span * 100:.3f}%",
                    colour=theme.status_colour(a.status),
                    title=f"{name} attempt {a.number}: {a.status}, {fmt.duration(end - start)}",
                )
            )
        first = node.attempts[0].start or t0
        last_end = node.attempts[-1].end
        took = fmt.duration((last_end if last_end is not None else t1) - first)
        rows.append(TimelineRow(name, node.status, len(node.attempts), took, bars))
    return Timeline(rows, fmt.duration(span))
