"""What the run page shows of map nodes: one line per map on the run (``squares 312/1000 ·
2 failed``), and a map node's panel: failures by index, the histogram of element durations
and its elements, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runtime import mapview
from runtime.redaction import Redactor
from studio.logic import fmt

PAGE_SIZE = 50


@dataclass
class MapLine:
    """A map node of the run as the run page's header lists it."""

    node: str
    progress: str
    """``312/1000``."""
    failed: int = 0
    failures: str = ""
    """``[2] ValueError: no 2; ...`` (redacted)."""


@dataclass
class Bar:
    """One bin of the histogram of element durations."""

    height: str
    """CSS height, a share of the tallest bin."""
    title: str
    """``100 ms to 350 ms: 3``."""


@dataclass
class ElementRow:
    index: int
    status: str
    attempts: int
    duration: str
    error: str


@dataclass
class MapPanel:
    """A map node's part of the node panel."""

    progress: str = ""
    """Empty for a node that is no map."""
    failures: str = ""
    histogram: list[Bar] = field(default_factory=list)
    span: str = ""
    """``12 ms to 1.4 s``: the range the histogram covers."""
    elements: list[ElementRow] = field(default_factory=list)
    offset: int = 0
    total: int = 0
    page: str = ""
    """``elements 51 to 100 of 1000``."""


def lines(maps: Mapping[str, mapview.MapProgress], shown: Redactor) -> list[MapLine]:
    return [
        MapLine(name, p.text, p.failed, shown.text(p.failures_text())) for name, p in maps.items()
    ]


def bars(durations: Sequence[float]) -> tuple[list[Bar], str]:
    bins = mapview.histogram(durations)
    if not bins:
        return [], ""
    peak = max(c for _, _, c in bins) or 1
    shown = [
        Bar(
            f"{round(100 * c / peak)}%",
            f"{mapview.seconds(low)} to {mapview.seconds(high)}: {c}",
        )
        for low, high, c in bins
    ]
    return shown, f"{mapview.seconds(bins[0][0])} to {mapview.seconds(bins[-1][1])}"


def panel(
    progress: mapview.MapProgress,
    elements: Sequence[mapview.Element],
    offset: int,
    shown: Redactor,
    page_size: int = PAGE_SIZE,
) -> MapPanel:
    """The panel from every element (the histogram needs each one's duration) and the page
    from ``offset``."""
    histogram, span = bars([e.duration for e in elements if e.duration is not None])
    offset = max(0, min(offset, max(len(elements) - 1, 0)))
    page = elements[offset : offset + page_size]
    total = max(progress.total, len(elements))
    return MapPanel(
        progress=progress.text,
        failures=shown.text(progress.failures_text(limit=20)),
        histogram=histogram,
        span=span,
        elements=[
            ElementRow(
                e.index,
                e.status,
                e.attempts,
                fmt.duration(e.duration),
                shown.text(e.error or ""),
            )
            for e in page
        ],
        offset=offset,
        total=total,
        page=(
            f"elements {page[0].index} to {page[-1].index} of {total}"
            if page
            else "no elements yet"
        ),
    )
