"""What the node panel shows of a library node's details (``runtime.details``): an llm
node's token usage next to the run's, an http node's request summary try by try, a code
node's stdout and stderr. Plain rows for the page's state."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime import details
from runtime.details import NodeDetails, RunUsage

MAX_STREAM = 50_000
"""Characters of stdout or stderr sent to the page (the end kept: where a failure says
what it was)."""


@dataclass
class DetailsPanel:
    """The node panel's details sections; empty strings and lists: not shown."""

    tokens: str = ""
    """``11 input + 4 output = 15 tokens``."""
    model: str = ""
    run_tokens: str = ""
    """The run's usage over its llm nodes (shown with a node's own)."""
    http: str = ""
    """``GET http://host/items?q=x → 200 in 3.1 ms, 17 bytes, 1 retry``."""
    http_status: str = ""
    http_tries: list[str] = field(default_factory=list)
    """One line per try, when there were retries."""
    http_error: str = ""
    code: str = ""
    """``ran 12 ms · ZeroDivisionError: division by zero``."""
    stdout: str = ""
    stderr: str = ""
    attempt: str = ""
    """``from attempt 2`` when a retry recorded them."""


def panel(d: NodeDetails | None, usage: RunUsage) -> DetailsPanel:
    out = DetailsPanel()
    if d is None:
        return out
    attempts = []
    if d.usage is not None:
        out.tokens = details.usage_line(d.usage)
        out.model = d.usage.model
        out.run_tokens = f"run: {details.usage_line(usage)} in {usage.nodes} llm node" + (
            "s" if usage.nodes != 1 else ""
        )
        attempts.append(d.usage.attempt)
    if d.http is not None:
        out.http = details.http_line(d.http)
        out.http_status = "" if d.http.status is None else str(d.http.status)
        if len(d.http.tries) > 1:
            out.http_tries = [f"#{i} {details.try_line(t)}" for i, t in enumerate(d.http.tries, 1)]
        out.http_error = d.http.error
        attempts.append(d.http.attempt)
    if d.code is not None:
        took = "" if d.code.elapsed_ms is None else f"ran {d.code.elapsed_ms:g} ms"
        out.code = " · ".join(p for p in (took, d.code.error) if p)
        out.stdout, out.stderr = _end(d.code.stdout), _end(d.code.stderr)
        attempts.append(d.code.attempt)
    latest = max((a for a in attempts if a is not None), default=None)
    if latest is not None and latest > 1:
        out.attempt = f"from attempt {latest}"
    return out


def _end(text: str) -> str:
    if len(text) <= MAX_STREAM:
        return text
    return f"[... {len(text) - MAX_STREAM:,} characters left out]\n" + text[-MAX_STREAM:]
