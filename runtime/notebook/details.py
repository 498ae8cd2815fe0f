"""The notebook view's part for library nodes' details (``runtime.details``): an llm node's
token usage, an http node's request summary, a code node's stdout and stderr; and the run's
token usage. HTML for the view's widgets; the texts were redacted when read."""

from __future__ import annotations

import html

from runtime import details
from runtime.details import NodeDetails, RunUsage

MAX_STREAM = 100_000
"""Characters of stdout or stderr shown (the end kept: where a failure says what it was)."""


def node_details_html(d: NodeDetails) -> str:
    parts = [f"<div class='plait-node-extras' data-node='{html.escape(d.node)}'>"]
    if d.usage is not None:
        model = f" · {html.escape(d.usage.model)}" if d.usage.model else ""
        parts.append(
            f"<div class='plait-token-usage' data-tokens='{d.usage.total_tokens}'>tokens: "
            f"<b>{html.escape(details.usage_line(d.usage))}</b>{model}{_attempt(d.usage.attempt)}"
            "</div>"
        )
    if d.http is not None:
        h = d.http
        parts.append(
            f"<div class='plait-http-summary' data-http-status='{h.status or ''}'>"
            f"<b>{html.escape(details.http_line(h))}</b>{_attempt(h.attempt)}"
        )
        if len(h.tries) > 1:
            tries = "".join(f"<li>{html.escape(details.try_line(t))}</li>" for t in h.tries)
            parts.append(f"<ol class='plait-http-tries'>{tries}</ol>")
        if h.error:
            parts.append(f"<div class='plait-http-error'>{html.escape(h.error)}</div>")
        parts.append("</div>")
    if d.code is not None:
        c = d.code
        took = "" if c.elapsed_ms is None else f"ran {c.elapsed_ms:g} ms"
        line = " · ".join(p for p in (took, c.error) if p)
        parts.append(f"<div class='plait-code-run'>{html.escape(line)}{_attempt(c.attempt)}</div>")
        for name, text in (("stdout", c.stdout), ("stderr", c.stderr)):
            if text:
                parts.append(
                    f"<div>{name}</div><pre class='plait-{name}'>{html.escape(_end(text))}</pre>"
                )
    parts.append("</div>")
    return "".join(parts)


def run_usage_html(usage: RunUsage) -> str:
    """The run's token usage, ``""`` when no llm node recorded any."""
    if not usage.nodes:
        return ""
    return (
        f"<div class='plait-run-tokens' data-tokens='{usage.total_tokens}'>LLM token usage: "
        f"<b>{html.escape(details.usage_line(usage))}</b> ({usage.nodes} llm "
        f"node{'s' if usage.nodes != 1 else ''})</div>"
    )


def _attempt(attempt: int | None) -> str:
    return f" <i>(attempt {attempt})</i>" if attempt is not None and attempt > 1 else ""


def _end(text: str) -> str:
    if len(text) <= MAX_STREAM:
        return text
    return f"[... {len(text) - MAX_STREAM:,} characters left out]\n" + text[-MAX_STREAM:]
