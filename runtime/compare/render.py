"""A ``RunDiff`` as text (``plait diff``) and as HTML (the notebook display): plain markup
with inline styles and ``data:`` pictures only, so it survives an untrusted notebook's
sanitiser the way a graph's display does."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.compare.runs import NodeDiff, RunDiff
    from runtime.compare.values import ValueDiff

_MARK = {"changed": "~", "unchanged": "=", "only_in_a": "-", "only_in_b": "+"}
_LABEL = {
    "changed": "changed",
    "unchanged": "unchanged",
    "only_in_a": "only in A",
    "only_in_b": "only in B",
}
_COLOR = {
    "changed": "#b45309",
    "unchanged": "#6b7280",
    "only_in_a": "#b91c1c",
    "only_in_b": "#15803d",
}


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def timing(node: NodeDiff) -> str:
    a, b = node.duration
    text = f"{seconds(a)} → {seconds(b)}"
    delta = node.duration_delta
    if delta is not None:
        text += f" ({'+' if delta >= 0 else '-'}{seconds(abs(delta))})"
    return text


def _pair(pair: Any) -> str:
    a, b = pair
    if a is None or b is None:  # a node of one run only
        return str(b if a is None else a)
    return str(a) if a == b else f"{a} → {b}"


def as_text(diff: RunDiff) -> str:
    lines = [
        f"A {diff.a}  {diff.workflow[0]} v{diff.version[0] or '?'}  {diff.status[0]}"
        f"  {seconds(diff.duration[0])}",
        f"B {diff.b}  {diff.workflow[1]} v{diff.version[1] or '?'}  {diff.status[1]}"
        f"  {seconds(diff.duration[1])}",
        diff.summary(),
    ]
    changed_inputs = diff.inputs_changed
    if changed_inputs:
        lines.append("inputs:")
        for name, value in changed_inputs.items():
            lines.append(f"  {name}: {value.summary}")
            lines.extend("    " + x for x in value.lines)
    lines.append("nodes:")
    for node in diff.nodes.values():
        lines.append(
            f"{_MARK[node.change]} {node.name:24} {_LABEL[node.change]:10} "
            f"status {_pair(node.status)}  attempts {_pair(node.attempts)}  {timing(node)}"
        )
        if node.change != "changed":
            continue
        if node.definition:
            lines.append(f"    definition: {', '.join(node.definition)}")
        if "error" in node.reasons and node.error[1]:
            lines.append(f"    error in B: {node.error[1]}")
        if node.value and not node.value.equal:
            lines.append(f"    {node.value.summary}")
            lines.extend("    " + x for x in node.value.lines)
    return "\n".join(lines)


_CELL = "padding:2px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top"
_PRE = (
    "margin:4px 0;padding:6px;background:#f9fafb;border:1px solid #e5e7eb;"
    "font-size:12px;white-space:pre-wrap;max-height:400px;overflow:auto"
)


def as_html(diff: RunDiff) -> str:
    e = html.escape
    head = (
        f"<div class='plait-diff'><div><b>{e(diff.workflow[1])}</b>: run "
        f"<code>{e(diff.a)}</code> (A, {e(str(diff.status[0]))}) → "
        f"<code>{e(diff.b)}</code> (B, {e(str(diff.status[1]))})</div>"
        f"<div style='margin:4px 0'>{e(diff.summary())}</div>"
    )
    parts = [head]
    changed_inputs = diff.inputs_changed
    if changed_inputs:
        parts.append("<div><b>Inputs</b></div>")
        parts.extend(
            f"<details><summary>{e(name)}: {e(value.summary)}</summary>"
            f"{value_html(value)}</details>"
            for name, value in changed_inputs.items()
        )
    rows = [
        f"<tr><th style='{_CELL}'>node</th><th style='{_CELL}'>change</th>"
        f"<th style='{_CELL}'>status</th><th style='{_CELL}'>attempts</th>"
        f"<th style='{_CELL}'>time</th><th style='{_CELL}'>difference</th></tr>"
    ]
    for node in diff.nodes.values():
        detail = node_html(node)
        rows.append(
            f"<tr><td style='{_CELL}'><code>{e(node.name)}</code></td>"
            f"<td style='{_CELL};color:{_COLOR[node.change]}'>{e(_LABEL[node.change])}</td>"
            f"<td style='{_CELL}'>{e(_pair(node.status))}</td>"
            f"<td style='{_CELL}'>{e(_pair(node.attempts))}</td>"
            f"<td style='{_CELL}'>{e(timing(node))}</td>"
            f"<td style='{_CELL}'>{detail}</td></tr>"
        )
    parts.append(f"<table style='border-collapse:collapse;font-size:13px'>{''.join(rows)}</table>")
    parts.append("</div>")
    return "".join(parts)


def node_html(node: NodeDiff) -> str:
    e = html.escape
    if node.change != "changed":
        return ""
    bits = []
    if node.definition:
        bits.append(f"definition: {e(', '.join(node.definition))}")
    if "error" in node.reasons and node.error[1]:
        bits.append(f"error in B: {e(str(node.error[1]))[:300]}")
    if node.value and not node.value.equal:
        bits.append(
            f"<details><summary>{e(node.value.summary)}</summary>{value_html(node.value)}</details>"
        )
    elif not bits:
        bits.append(e(", ".join(node.reasons)))
    return "<br>".join(bits)


def value_html(value: ValueDiff) -> str:
    e = html.escape
    if value.kind == "picture":
        # only Picture's own data: URIs (mime checked when it was made) get here
        a, b = value.detail.get("a", ""), value.detail.get("b", "")
        if not (a.startswith("data:image/") and b.startswith("data:image/")):
            return ""
        return (
            "<div style='display:flex;gap:8px'>"
            f"<figure style='margin:0'><img alt='A' src='{e(a)}' style='max-width:360px'/>"
            "<figcaption>A</figcaption></figure>"
            f"<figure style='margin:0'><img alt='B' src='{e(b)}' style='max-width:360px'/>"
            "<figcaption>B</figcaption></figure></div>"
        )
    if value.kind == "frame":
        return _frame_html(value.detail)
    lines = value.lines or value.detail.get("unified", [])
    if not lines:
        return ""
    return f"<pre style='{_PRE}'>{''.join(_line_html(x) for x in lines)}</pre>"


def _line_html(line: str) -> str:
    e = html.escape
    if line.startswith("+") and not line.startswith("+++"):
        return f"<span style='background:#dcfce7'>{e(line)}</span>\n"
    if line.startswith("-") and not line.startswith("---"):
        return f"<span style='background:#fee2e2'>{e(line)}</span>\n"
    return e(line) + "\n"


def _frame_html(d: dict[str, Any]) -> str:
    e = html.escape
    facts = [f"shape {d['shape'][0]} → {d['shape'][1]}"]
    if d["columns_added"]:
        facts.append("columns added: " + ", ".join(d["columns_added"]))
    if d["columns_removed"]:
        facts.append("columns removed: " + ", ".join(d["columns_removed"]))
    facts += [f"dtype {c}: {x} → {y}" for c, (x, y) in d["dtypes"].items()]
    if d["rows_added"] or d["rows_removed"]:
        facts.append(f"rows +{d['rows_added']:,} -{d['rows_removed']:,}")
    facts += [
        f"{c}: {n:,} cells"
        + (f", max abs delta {d['max_abs_delta'][c]:.6g}" if c in d["max_abs_delta"] else "")
        for c, n in d["changed_by_column"].items()
    ]
    out = "<ul style='margin:4px 0'>" + "".join(f"<li>{e(f)}</li>" for f in facts) + "</ul>"
    if d["rows"]:
        cols = sorted({c for row in d["rows"] for c in row["changes"]})
        header = "".join(f"<th style='{_CELL}'>{e(c)}</th>" for c in cols)
        body = []
        for row in d["rows"]:
            cells = []
            for c in cols:
                if c in row["changes"]:
                    x, y = row["changes"][c]
                    cells.append(f"<td style='{_CELL}'>{e(str(x))} → <b>{e(str(y))}</b></td>")
                else:
                    cells.append(f"<td style='{_CELL}'></td>")
            body.append(f"<tr><td style='{_CELL}'>{e(str(row['index']))}</td>{''.join(cells)}</tr>")
        out += (
            f"<table style='border-collapse:collapse'><tr><th style='{_CELL}'>index</th>"
            f"{header}</tr>{''.join(body)}</table>"
        )
    return out
