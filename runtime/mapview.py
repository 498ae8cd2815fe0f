"""How every view shows a map node: collapsed into one node with its progress (``312/1000``),
its failures by index, a small histogram of element durations, and a drill-down to its
elements. Plain functions over ``map.progress`` events and element rows, shared by the
notebook view, the studio and the report."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.statuses import node_status

HISTOGRAM_BINS = 10


@dataclass
class MapProgress:
    """How far a map node's elements are."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    """Elements failed for good."""
    running: int = 0
    failures: dict[int, str] = field(default_factory=dict)
    """Index -> ``Type: message`` of each element failed for good."""

    @property
    def text(self) -> str:
        """``312/1000``: elements succeeded of all."""
        return f"{self.succeeded}/{self.total}"

    def fold(self, data: Mapping[str, Any]) -> MapProgress:
        """Take in one ``map.progress`` event's data."""
        self.total = int(data.get("total", self.total))
        self.succeeded = int(data.get("succeeded", self.succeeded))
        self.failed = int(data.get("failed", self.failed))
        self.running = int(data.get("running", self.running))
        for index, error_type, error in data.get("failures", ()):
            self.failures[int(index)] = f"{error_type}: {error}"
        return self

    def failures_text(self, limit: int = 5) -> str:
        """``[2] ValueError: no 2; [5] ...; and 3 more``."""
        shown = sorted(self.failures)[:limit]
        text = "; ".join(f"[{i}] {self.failures[i]}" for i in shown)
        more = len(self.failures) - len(shown)
        return text + (f"; and {more} more" if more else "")


def progress_from_events(events: Iterable[Mapping[str, Any]]) -> dict[str, MapProgress]:
    """Map node -> its progress, from a run's events."""
    maps: dict[str, MapProgress] = {}
    for event in events:
        if event["type"] == "map.progress" and event["node"] is not None:
            maps.setdefault(event["node"], MapProgress()).fold(event["data"])
    return maps


@dataclass(frozen=True)
class Element:
    """One element of a map node as a drill-down lists it: its latest attempt."""

    index: int
    status: str
    attempts: int
    duration: float | None
    error: str | None


def elements(rows: Sequence[Any], run_status: str) -> list[Element]:
    """Element rows (``Store.element_attempts`` or ``element_page``), latest attempt each,
    by index."""
    latest: dict[int, Any] = {}
    for row in rows:
        if row.element is not None:
            known = latest.get(row.element)
            if known is None or row.attempt >= known.attempt:
                latest[row.element] = row
    shown = []
    for index in sorted(latest):
        row = latest[index]
        took = (
            (row.ended_at - row.started_at).total_seconds()
            if row.ended_at is not None and row.started_at is not None
            else None
        )
        error = f"{row.error_type}: {row.error_message}" if row.error_type else None
        status = node_status(row.status, row.will_retry, run_status)
        shown.append(Element(index, status, row.attempt, took, error))
    return shown


def histogram(
    durations: Iterable[float], bins: int = HISTOGRAM_BINS
) -> list[tuple[float, float, int]]:
    """``(low, high, count)`` of equal-width bins over the durations (seconds)."""
    values = sorted(d for d in durations if d is not None)
    if not values:
        return []
    low, high = values[0], values[-1]
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(int((value - low) / width), bins - 1)] += 1
    return [(low + i * width, low + (i + 1) * width, c) for i, c in enumerate(counts)]


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def histogram_svg(
    bins: Sequence[tuple[float, float, int]], width: int = 160, height: int = 36
) -> str:
    """The histogram as a small inline SVG (one bar per bin; its title gives the range)."""
    if not bins:
        return ""
    peak = max(c for _, _, c in bins) or 1
    bar = width / len(bins)
    bars = []
    for i, (low, high, count) in enumerate(bins):
        tall = round(height * count / peak, 1)
        bars.append(
            f"<rect x='{i * bar:.1f}' y='{height - tall}' width='{bar - 1:.1f}' height='{tall}' "
            f"fill='#4c78a8'><title>{seconds(low)} to {seconds(high)}: {count}</title></rect>"
        )
    caption = f"element durations {seconds(bins[0][0])} to {seconds(bins[-1][1])}"
    return (
        f"<svg class='plait-histogram' width='{width}' height='{height}' role='img' "
        f"aria-label='{html.escape(caption)}'>{''.join(bars)}</svg>"
    )


def elements_table_html(shown: Sequence[Element]) -> str:
    rows = "".join(
        f"<tr data-element='{e.index}' data-status='{e.status}'><td>{e.index}</td>"
        f"<td>{e.status}</td><td>{e.attempts}</td>"
        f"<td>{'' if e.duration is None else seconds(e.duration)}</td>"
        f"<td>{html.escape(e.error or '')}</td></tr>"
        for e in shown
    )
    return (
        "<table class='plait-elements'><thead><tr><th>element</th><th>status</th>"
        "<th>attempts</th><th>duration</th><th>error</th></tr></thead><tbody>"
        + rows
        + "</tbody></table>"
    )
