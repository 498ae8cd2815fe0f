"""The run page's run-level log: every node's log lines and every event of the run, in
time order, filterable by node and level."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runtime.store.tables import EventDict, NodeRun

ALL = "all"
LEVELS: tuple[str, ...] = (ALL, "error", "warning", "info", "log")
"""What the level filter offers: ``log`` is a line a node logged, the others events."""
RUN = "(run)"
"""The node column of a run-level event."""
LIMIT = 2000
"""Lines shown at most (the newest)."""

_ERROR = {"node.failed", "run.failed"}
_WARNING = {"node.retrying", "node.interrupted", "node.cancelled", "run.cancelled"}
_WARNING |= {"run.cancel_requested", "run.stalled", "node.skipped"}
_QUIET = {"map.progress"}
"""Events the log leaves out: a map's progress comes a few times a second."""
_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d) (.*)$", re.S)


@dataclass(frozen=True)
class LogLine:
    at: float
    """Unix time (the order)."""
    time: str
    """``14:05:03.120`` UTC."""
    node: str
    level: str
    text: str


def level_of(kind: str) -> str:
    if kind in _ERROR:
        return "error"
    return "warning" if kind in _WARNING else "info"


def describe(event: EventDict) -> str:
    """``node.failed ZeroDivisionError: integer division by zero``."""
    data: dict[str, Any] = event.get("data") or {}
    kind = event["type"]
    if kind.endswith(".failed"):
        error = " ".join(str(data[k]) for k in ("error_type", "error") if data.get(k))
        return f"{kind} {error}".strip()
    if kind == "node.skipped" and data.get("reason"):
        return f"{kind}: {data['reason']}"
    if kind == "node.retrying" and "retry_in" in data:
        return f"{kind} in {data['retry_in']} s"
    if data.get("attempt"):
        return f"{kind} (attempt {data['attempt']})"
    return kind


def clock(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%H:%M:%S.%f")[:-3]


def event_lines(events: Iterable[EventDict]) -> list[LogLine]:
    return [
        LogLine(e["at"], clock(e["at"]), e["node"] or RUN, level_of(e["type"]), describe(e))
        for e in events
        if e["type"] not in _QUIET
    ]


def attempt_lines(attempts: Iterable[NodeRun]) -> list[LogLine]:
    """The lines nodes logged (``rt.current().log``), timed by their ``HH:MM:SS`` stamp on
    the day the attempt started; a line without one takes the attempt's start."""
    out = []
    for row in attempts:
        if not row.logs or row.started_at is None:
            continue
        start = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=dt.UTC)
        at = start.timestamp()
        end = row.ended_at.timestamp() if row.ended_at is not None else at + 86400
        for raw in row.logs.splitlines():
            match = _STAMP.match(raw)
            text = raw
            if match:
                h, m, s, text = match.groups()
                stamp = start.replace(hour=int(h), minute=int(m), second=int(s), microsecond=0)
                stamped = stamp.timestamp()
                # stamped in whole seconds (keep the order), in the worker's local time:
                # a stamp outside the attempt is another zone's, so the start stands
                if start.timestamp() - 1 <= stamped <= end + 1:
                    at = max(at, stamped)
            out.append(LogLine(at, clock(at), row.node, "log", text))
    return out


def merged(events: Iterable[EventDict], attempts: Iterable[NodeRun]) -> list[LogLine]:
    """Events and log lines in time order (an event before a line of the same instant);
    the newest ``LIMIT``."""
    lines = event_lines(events) + attempt_lines(attempts)
    lines.sort(key=lambda line: (line.at, line.level == "log"))
    return lines[-LIMIT:]


def filtered(lines: list[LogLine], node: str = ALL, level: str = ALL) -> list[LogLine]:
    return [
        line
        for line in lines
        if (node == ALL or line.node == node) and (level == ALL or line.level == level)
    ]
