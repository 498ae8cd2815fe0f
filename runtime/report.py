"""Run reports: one self-contained HTML file per run (styles and pictures inline, no request
to any server when opened), readable on screen and on paper.

Size budget: the whole file stays under ``budget`` bytes (5 MB by default). Each value preview
is capped (DataFrames: 20 rows x 30 columns; text 20,000 characters; JSON 20,000 characters;
images and figures 1 MB), and so are errors (2,000 characters), tracebacks (20,000) and logs
(lines of at most 500 characters, 20,000 characters in all): the start and the end are kept,
with a note of what was left out between them. Then the pieces are counted against
what the page around them leaves: plotly.js first when a value needs it (1.9 MB packed), the
sections of failed, waiting and running nodes, the graph (not drawn past 400 nodes) and the
timeline, the other node sections (a note lists the nodes left out), the inputs, then the
previews of outputs and documents, each replaced by a note once the budget is spent.

Everything shown passes through the run's redactor (``runtime.redaction``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import gzip
import html
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markdown_it import MarkdownIt

from runtime import codecs, details, drawing, mapview, redaction
from runtime.errors import PlaitError
from runtime.nodes.subgraph import child_progress, child_run_id, parent_line
from runtime.statuses import (
    NODE_PARKED,
    NODE_SUCCEEDED,
    RUN_FINISHED,
    RUN_PARKED,
    UNTAKEN_LABEL,
    label,
    node_status,
    parked_label,
    spec_deps,
    untaken_nodes,
)

if TYPE_CHECKING:
    from runtime.client import Run

DEFAULT_BUDGET = 5_000_000
MAX_ROWS, MAX_COLS, MAX_TEXT, MAX_IMAGE = 20, 30, 20_000, 1_000_000
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)
"""What a report may load: only what is inside it (a plotly map cannot fetch its outlines,
an image cannot point elsewhere)."""
MAX_ERROR, MAX_LOG_LINE = 2_000, 500
MAX_FAILED_ELEMENTS = 100
"""Failed elements of a map node listed in its section (a note counts the rest)."""
MAX_GRAPH_NODES, MAX_TIMELINE = 400, 500
"""Past this many nodes the graph is not drawn, past this many attempts the timeline stops
(either picture would pass a megabyte)."""
NOTES_RESERVE = 4_000
"""Bytes kept for the notes that say what was left out."""

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("runtime", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_pieces: Any = _templates.get_template("report_parts.html.j2").module
"""The pieces (node and document sections, input rows, output blocks) as macros."""
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


class ReportHTML(str):
    """The report's HTML; in a notebook it displays inline (in an isolated frame)."""

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self, quote=True)}" '
            'style="width:100%;height:720px;border:1px solid #ddd"></iframe>'
        )


_LEFT_OUT = "<p class='note'>preview left out: the report reached its size budget</p>"


@dataclass
class Budget:
    """Bytes left for previews; once spent, previews are replaced by a note."""

    left: int
    cut: list[str] = field(default_factory=list)

    def take(self, name: str, fragment: str) -> str:
        """The fragment if it fits (and counts it), else a short note (counted too)."""
        if self.fits(fragment):
            return fragment
        self.cut.append(name)
        # once not even the note fits, the list of what was cut at the end says it
        return _LEFT_OUT if self.fits(_LEFT_OUT) else ""

    def fits(self, fragment: str) -> bool:
        """Whether the fragment fits; if so it is counted."""
        size = len(fragment.encode())
        if size > self.left:
            return False
        self.left -= size
        return True


def preview(value: Any, kind: str = "auto") -> str:
    """Safe HTML for a value, capped to the size budget of one preview."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.Series):
        value = value.to_frame()
    if pd is not None and isinstance(value, pd.DataFrame):
        return _frame_html(value)
    if isinstance(value, bytes):
        if value.startswith(b"\x89PNG") and len(value) <= MAX_IMAGE:
            return (
                f"<img alt='image output' src='{codecs.Picture('image/png', value).data_uri()}'/>"
            )
        return f"<p>{len(value):,} bytes</p>"
    figure = _figure_html(value)
    if figure is not None:
        return figure
    if isinstance(value, str):
        if kind == "markdown" or (kind == "auto" and _looks_like_markdown(value)):
            return f"<div class='markdown'>{_markdown.render(_cap(value))}</div>"
        return f"<pre>{html.escape(_cap(value))}</pre>"
    value = _plain(value)
    try:
        text = json.dumps(value, indent=2, default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return f"<pre class='json'>{html.escape(_cap(text))}</pre>"


def _frame_html(frame: Any) -> str:
    rows, cols = frame.shape
    shown = frame.iloc[:MAX_ROWS, :MAX_COLS]
    dtypes = "".join(
        f"<tr><td>{html.escape(str(c))}</td><td>{html.escape(str(t))}</td></tr>"
        for c, t in list(frame.dtypes.items())[:MAX_COLS]
    )
    parts = [
        f"<p class='shape'>DataFrame: {rows:,} rows, {cols:,} columns</p>",
        shown.to_html(classes="frame", border=0, max_cols=MAX_COLS),
    ]
    if rows > MAX_ROWS or cols > MAX_COLS:
        parts.append(
            f"<p class='note'>first {min(rows, MAX_ROWS)} rows and "
            f"{min(cols, MAX_COLS)} columns shown</p>"
        )
    parts.append(
        f"<details><summary>dtypes</summary><table class='frame'>{dtypes}</table></details>"
    )
    numeric = frame.select_dtypes("number")
    if not numeric.empty:
        summary = numeric.iloc[:, :MAX_COLS].describe().round(4)
        parts.append(
            "<details><summary>summary</summary>"
            f"{summary.to_html(classes='frame', border=0)}</details>"
        )
    return "".join(parts)


def _figure_html(value: Any) -> str | None:
    """Charts: pictures (what stored matplotlib figures become), live matplotlib figures, and
    plotly figures, which the report's embedded plotly.js draws (interactive, prints as SVG)."""
    if codecs.PictureCodec().accepts(value):
        picture = codecs.Picture.of(value)
        if len(picture.data) > MAX_IMAGE:
            return f"<p class='note'>picture of {len(picture.data):,} bytes left out</p>"
        return f"<img class='figure' alt='chart' src='{html.escape(picture.data_uri())}'/>"
    if codecs.PlotlyCodec().accepts(value):
        spec = value.to_json()
        if len(spec) > MAX_IMAGE:
            return f"<p class='note'>plotly figure of {len(spec):,} bytes left out</p>"
        return (
            f"<div class='plotly-figure' data-figure='{html.escape(spec, quote=True)}'>"
            "<p class='note'>plotly figure (drawn by the report's script)</p></div>"
        )
    return None


@functools.cache
def _plotly_script() -> str:
    """plotly.js, gzipped into the page (1.9 MB instead of 4.8) and unpacked by the browser,
    so the file stays self-contained; only reports with a plotly figure carry it."""
    import plotly.offline

    packed = base64.b64encode(gzip.compress(plotly.offline.get_plotlyjs().encode(), 6))
    return (
        f'<script id="plotly-js" type="application/octet-stream">{packed.decode()}</script>'
        + PLOTLY_LOADER
    )


PLOTLY_LOADER = """<script>
window.plaitDrawFigures = async () => {
  const packed = document.getElementById('plotly-js');
  if (!packed) return;
  window.plaitPlotly ??= (async () => {
    const bytes = Uint8Array.from(atob(packed.textContent), (c) => c.charCodeAt(0));
    const gunzip = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    const code = document.createElement('script');
    code.textContent = await new Response(gunzip).text();
    document.head.appendChild(code);
  })();
  await window.plaitPlotly;
  for (const el of document.querySelectorAll('.plotly-figure:not([data-drawn])')) {
    const figure = JSON.parse(el.dataset.figure);
    el.dataset.drawn = 'true';
    el.replaceChildren();
    const layout = {height: 420, ...(figure.layout || {})};  // the page does not size it
    await Plotly.newPlot(el, figure.data, layout, {displaylogo: false});
  }
};
window.plaitDrawFigures();
</script>"""


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "content") and hasattr(value, "type"):  # a LangChain message
        return {"type": value.type, "content": value.content}
    return value


def _looks_like_markdown(text: str) -> bool:
    return bool(re.search(r"^(#{1,6} |[-*] |\d+\. |\|.+\|)", text, re.M))


def _cap(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"\n… ({len(text):,} characters)"


def _timeline(attempts: list[Any], start: dt.datetime, end: dt.datetime) -> str:
    """A Gantt chart of every attempt: one bar per attempt, coloured by its status."""
    rows = [a for a in attempts if a.started_at is not None]
    if not rows:
        return "<p class='note'>no node has started yet</p>"
    note = ""
    if len(rows) > MAX_TIMELINE:
        note = f"<p class='note'>first {MAX_TIMELINE:,} of {len(rows):,} attempts drawn</p>"
        rows = sorted(rows, key=lambda r: r.started_at)[:MAX_TIMELINE]
    span = max((end - start).total_seconds(), 1e-3)
    width, label_w, row_h = 760, 170, 18
    height = row_h * len(rows) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width + label_w}" '
        f'height="{height}" font-family="system-ui, sans-serif" font-size="11">'
    ]
    for i, a in enumerate(sorted(rows, key=lambda r: r.started_at)):
        x0 = (a.started_at - start).total_seconds() / span * width
        stop = a.ended_at or end
        x1 = max((stop - start).total_seconds() / span * width, x0 + 2)
        y = i * row_h
        label = html.escape(f"{a.node} #{a.attempt}")
        parts.append(
            f'<g class="bar" data-node="{html.escape(a.node)}" data-attempt="{a.attempt}" '
            f'data-status="{a.status}"><text x="0" y="{y + 12}">{label}</text>'
            f'<rect x="{label_w + x0:.1f}" y="{y + 2}" width="{x1 - x0:.1f}" height="{row_h - 5}" '
            f'fill="{drawing.colour(a.status)}" stroke="#374151" stroke-width="0.5"/></g>'
        )
    parts.append(
        f'<text x="{label_w}" y="{height - 4}">0 s</text>'
        f'<text x="{label_w + width}" y="{height - 4}" text-anchor="end">{span:.3f} s</text></svg>'
    )
    return "".join(parts) + note


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None or end is None:
        return ""
    took = (end - start).total_seconds()
    return f"{took * 1000:.0f} ms" if took < 1 else f"{took:.2f} s"


def render(
    run: Run, *, budget: int = DEFAULT_BUDGET, policy: str = CONTENT_SECURITY_POLICY
) -> ReportHTML:
    """The report of a run in any state (a running one says so). ``policy`` is the page's
    Content-Security-Policy. Everything shown goes through the run's redactor first."""
    record = run.record
    spec = run.spec
    shown = redaction.for_run(run)
    attempts = run.client.store.attempts(run.id)
    latest = {a.node: a for a in attempts}
    now = dt.datetime.now(dt.UTC)
    start = record.started_at or record.created_at
    end = record.ended_at or now
    saved = run.client.store.documents(run.id)
    kinds = {n["name"]: n["kind"] for n in spec["nodes"]}
    found = details.read(spec, [(d.node, d.name, v) for d, v in saved], shown)
    saved = [
        (d, v) for d, v in saved if not details.shown_as_details(kinds.get(d.node, ""), d.name)
    ]
    statuses = {n["name"]: _status(latest.get(n["name"]), record.status) for n in spec["nodes"]}
    page = functools.partial(
        _templates.get_template("report.html.j2").render,
        run=record,
        workflow=spec["name"],
        version=run.client.store.get_version(record.version_id).version,
        description=_cap_middle(spec.get("description", ""), MAX_ERROR),
        finished=record.status in RUN_FINISHED,
        status_label=parked_label(record.status, record.wake_at)
        if record.status in RUN_PARKED
        else record.status,
        duration=_seconds(start, record.ended_at) if record.ended_at else "",
        generated=now,
        error=shown.excerpt(record.error or "", MAX_ERROR),
        parent=parent_line(record),
        csp=policy,
        token_usage=_run_usage(found.usage),
    )
    # the page around the pieces is measured, so the pieces know exactly what is left
    frame = page(
        graph="",
        timeline="",
        inputs=[],
        outputs=[],
        nodes=[],
        documents=[],
        cut=[],
        left_out=[],
        scripts="",
    )
    spend = Budget(budget - _size(frame) - NOTES_RESERVE)
    # plotly.js goes first when a value needs it, so big tables cannot crowd it out
    codecs_used = {row.output_codec for row in latest.values()} | {d.value_codec for d, _ in saved}
    scripts = ""
    if codecs.PlotlyCodec.name in codecs_used:
        scripts = spend.take("plotly.js, so plotly figures stay undrawn", _plotly_script())
    # node sections without their previews: failed, waiting and running nodes first
    untaken = untaken_nodes(spec_deps(spec), statuses)
    entries = {
        n["name"]: _node_entry(
            n, latest.get(n["name"]), statuses[n["name"]], shown, n["name"] in untaken
        )
        for n in spec["nodes"]
    }
    for n in spec["nodes"]:
        if "subgraph" in n and latest.get(n["name"]) is not None:  # its child run, one line
            child = child_run_id(run.id, n["name"])
            entries[n["name"]]["child_id"] = child
            entries[n["name"]]["child"] = child_progress(run.client, child)
    for name, found_details in found.nodes.items():
        if name in entries:
            entries[name]["details"] = _details_entry(found_details)
    for name, progress in run.maps.items():
        if name in entries:
            entries[name]["map"] = _map_entry(run, name, progress, shown)
    urgency = {"failed": 0, "retrying": 1, "waiting": 1, "sleeping": 1, "running": 2}
    order = sorted(entries, key=lambda name: urgency.get(entries[name]["status"], 3))
    urgent = {name for name in entries if entries[name]["status"] in urgency}
    asked = record.targets or spec["outputs"]
    finals = [name for name in asked if statuses.get(name) in NODE_SUCCEEDED]
    bases = {
        # str: Markup.replace would escape the preview put in later
        name: str(_pieces.node_section(entries[name], _PREVIEW_HERE))
        for name in entries
    }
    # what went wrong comes before the pictures, the pictures before the other nodes
    kept = {name for name in order if name in urgent and spend.fits(bases[name])}
    graph = spend.take("the graph", _graph(spec, statuses))
    timeline = spend.take("the timeline", _timeline(attempts, start, end))
    kept |= {name for name in order if name not in urgent and spend.fits(bases[name])}
    left_out = [_short(name) for name in entries if name not in kept]

    try:
        given = shown.value(run.inputs)
    except PlaitError as exc:
        given = {"(unavailable)": str(exc)}
    inputs = [spend.take(f"input {k}", _pieces.input_row(k, preview(v))) for k, v in given.items()]

    previews: dict[str, str] = {}
    for name in [n for n in finals if n in kept] + [
        n for n in entries if n not in finals and n in kept
    ]:
        if statuses[name] not in NODE_SUCCEEDED:
            continue
        if spend.left < len(_LEFT_OUT):  # nothing more fits: do not even load the value
            previews[name] = spend.take(name, _LEFT_OUT + "!")
            continue
        try:
            value = shown.value(run.client.store.load_output(latest[name]))
            previews[name] = spend.take(name, preview(value))
        except PlaitError as exc:
            previews[name] = f"<p class='note'>output unavailable: {html.escape(str(exc))}</p>"
    # each preview is shown once, in its node's section; Outputs links there
    outputs = [
        str(_pieces.output_link(name)) for name in finals if spend.fits(_pieces.output_link(name))
    ]
    nodes = [
        bases[name].replace(_PREVIEW_HERE, previews.get(name, ""), 1)
        for name in entries
        if name in kept
    ]
    documents = []
    for doc, value in saved:
        what = f"document {doc.name}"
        if not spend.fits(_pieces.document_section(doc, "")):
            spend.cut.append(what)
            continue
        documents.append(
            _pieces.document_section(doc, spend.take(what, preview(shown.value(value), doc.kind)))
        )
    return ReportHTML(
        page(
            graph=graph,
            timeline=timeline,
            inputs=inputs,
            outputs=outputs,
            nodes=nodes,
            documents=documents,
            cut=[_short(name) for name in spend.cut],
            left_out=left_out,
            scripts=scripts,
        )
    )


_PREVIEW_HERE = "<!--preview-->"
"""Where a node section's preview goes, once the budget says whether it fits."""


def _status(row: Any, run_status: str) -> str:
    if row is None:
        return "pending"
    return node_status(row.status, row.will_retry, run_status, cached=row.cached_from is not None)


def _node_entry(
    node: dict[str, Any], row: Any, status: str, shown: redaction.Redactor, untaken: bool = False
) -> dict[str, Any]:
    """What a node's section says, redacted and capped (error, traceback, logs; why a
    skipped node was skipped)."""
    error = f"{row.error_type}: {row.error_message}" if row is not None and row.error_type else ""
    if status == "skipped" and row is not None and not error:
        error = row.error_message or ""
    shown_as = UNTAKEN_LABEL if untaken else label(status)
    if status == "retrying" and row.retry_at is not None:
        shown_as += f" at {row.retry_at:%H:%M:%S} UTC"
    if status in NODE_PARKED and row.wake_at is not None:
        shown_as = parked_label(status, row.wake_at)
    return {
        "name": node["name"],
        "kind": node["kind"],
        "status": status,
        "untaken": untaken,
        "label": shown_as,
        "attempts": row.attempt if row else 0,
        "duration": _seconds(row.started_at, row.ended_at) if row else "",
        "error": shown.excerpt(error, MAX_ERROR),
        "traceback": shown.excerpt(row.traceback or "", MAX_TEXT) if row else "",
        "logs": _cap_logs(row.logs or "", shown) if row else "",
        "answered_by": _short(row.answered_by or "") if row else None,
        "child": None,
        "child_id": None,
        "details": None,
    }


def _map_entry(
    run: Run, name: str, progress: mapview.MapProgress, shown: redaction.Redactor
) -> dict[str, Any]:
    """A map node's part of its section: progress, the histogram of element durations and
    the table of failed elements (by index, capped)."""
    elements = run.elements(name)
    failed = [e for e in elements if e.status == "failed"]
    durations = [e.duration for e in elements if e.duration is not None]
    return {
        "progress": progress.text,
        "failed": len(failed),
        "running": progress.running,
        "histogram": mapview.histogram_svg(mapview.histogram(durations)),
        "failures": [
            {
                "index": e.index,
                "attempts": e.attempts,
                "error": shown.excerpt(e.error or "", MAX_ERROR),
            }
            for e in failed[:MAX_FAILED_ELEMENTS]
        ],
        "more_failures": max(len(failed) - MAX_FAILED_ELEMENTS, 0),
    }


def _run_usage(usage: details.RunUsage) -> dict[str, Any] | None:
    if not usage.nodes:
        return None
    return {"line": details.usage_line(usage), "total": usage.total_tokens, "nodes": usage.nodes}


def _details_entry(d: details.NodeDetails) -> dict[str, Any]:
    """What a node's section shows of its details (token usage, the HTTP summary, the code's
    output: the end of each stream kept when long)."""
    entry: dict[str, Any] = {"usage": None, "http": None, "code": None}
    if d.usage is not None:
        entry["usage"] = {
            "line": details.usage_line(d.usage),
            "total": d.usage.total_tokens,
            "model": d.usage.model,
        }
    if d.http is not None:
        entry["http"] = {
            "line": details.http_line(d.http),
            "status": d.http.status if d.http.status is not None else "",
            "tries": [details.try_line(t) for t in d.http.tries],
            "error": _cap_middle(d.http.error, MAX_ERROR),
        }
    if d.code is not None:
        took = "" if d.code.elapsed_ms is None else f"ran {d.code.elapsed_ms:g} ms"
        line = " · ".join(p for p in (took, d.code.error) if p)
        entry["code"] = {
            "line": line,
            "stdout": _cap_middle(d.code.stdout, MAX_TEXT),
            "stderr": _cap_middle(d.code.stderr, MAX_TEXT),
        }
    return entry


def _graph(spec: dict[str, Any], statuses: dict[str, str]) -> str:
    if len(spec["nodes"]) > MAX_GRAPH_NODES:
        return (
            f"<p class='note'>{len(spec['nodes']):,} nodes: too many to draw here "
            f"(at most {MAX_GRAPH_NODES:,}); each has its section below</p>"
        )
    return drawing.render(spec, statuses)


def _cap_logs(logs: str, shown: redaction.Redactor) -> str:
    """Logs redacted line by line, each line capped; long logs keep their first and last
    lines (about ``MAX_TEXT`` characters) and say how many lines were left out."""
    lines = [shown.excerpt(line, MAX_LOG_LINE) for line in _edge_lines(logs.splitlines())]
    return "\n".join(lines)


def _edge_lines(lines: list[str]) -> list[str]:
    if sum(min(len(line), MAX_LOG_LINE) + 1 for line in lines) <= MAX_TEXT:
        return lines
    head: list[str] = []
    room = MAX_TEXT // 4
    for line in lines:
        room -= min(len(line), MAX_LOG_LINE) + 1
        if room < 0:
            break
        head.append(line)
    tail: list[str] = []
    room = MAX_TEXT - MAX_TEXT // 4
    for line in reversed(lines[len(head) :]):
        room -= min(len(line), MAX_LOG_LINE) + 1
        if room < 0:
            break
        tail.append(line)
    skipped = len(lines) - len(head) - len(tail)
    return [*head, f"… ({skipped:,} log lines left out) …", *reversed(tail)]


def _cap_middle(text: str, limit: int) -> str:
    """The start and the end of a long (already redacted) text."""
    if len(text) <= limit:
        return text
    head, tail = limit // 4, limit - limit // 4
    return f"{text[:head]}\n… ({len(text) - head - tail:,} characters left out) …\n{text[-tail:]}"


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:59] + "…"


def _size(text: str) -> int:
    return len(text.encode())


def write(run: Run, path: str | Path, **options: Any) -> ReportHTML:
    page = render(run, **options)
    Path(path).write_text(page, encoding="utf-8")
    return page
