"""How times, durations and sizes read on the pages."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode


def duration(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 3 s``, ``2 h 5 min``; empty when unknown."""
    if seconds is None:
        return ""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest} s"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min"


def timestamp(value: dt.datetime | None) -> str:
    """Local time, to the second (the date too when it is not today)."""
    if value is None:
        return ""
    local = value.astimezone()
    if local.date() == dt.datetime.now().astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``."""
    if value is None:
        return ""
    seconds = ((now or dt.datetime.now(dt.UTC)) - value).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def until(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``in 5 min``, ``in 3 h``, ``in 6 d``; ``never`` without a date; ``ago`` once past."""
    if value is None:
        return "never"
    seconds = (value - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if seconds <= 0:
        return ago(value, now)
    if seconds < 3600:
        return f"in {max(int(seconds // 60), 1)} min"
    if seconds < 86400:
        return f"in {int(seconds // 3600)} h"
    return f"in {int(seconds // 86400)} d"


def size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GB"


def workflow_href(name: str) -> str:
    """The workflow page's address (any name: spaces, slashes)."""
    return "/workflows/" + quote(name, safe="")


def runs_href(workflow: str) -> str:
    """The runs page filtered to one workflow."""
    return "/runs?" + urlencode({"workflow": workflow})


def editor_href(name: str) -> str:
    """The editor's address for a workflow (any name)."""
    return "/editor/" + quote(name, safe="")


def short(version: str) -> str:
    """A version hash as lists show it."""
    return version[:8]
