"""Run reports: one self-contained HTML file per run (styles and pictures inline, no request
to any server when opened), readable on screen and on paper.

Size budget: each value preview is capped (DataFrames: 20 rows x 30 columns; text 20,000
characters; JSON 20,000 characters; images and figures 1 MB) and the whole report stops adding
node previews past ``budget`` bytes (5 MB by default), saying so where it cut. A report with a
plotly figure carries plotly.js (1.9 MB packed) out of the same budget, taken first.
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

from runtime import codecs, drawing
from runtime.errors import PlaitError

if TYPE_CHECKING:
    from runtime.client import Run

DEFAULT_BUDGET = 5_000_000
MAX_ROWS, MAX_COLS, MAX_TEXT, MAX_IMAGE = 20, 30, 20_000, 1_000_000
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)
"""What a report may load: only what is inside it (a plotly map cannot fetch its outlines,
an image cannot point elsewhere)."""
REDACTED = "•••• redacted"
SENSITIVE = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|private[_-]?key", re.I)
"""Keys whose values never appear in a report."""

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("runtime", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


class ReportHTML(str):
    """The report's HTML; in a notebook it displays inline (in an isolated frame)."""

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self, quote=True)}" '
            'style="width:100%;height:720px;border:1px solid #ddd"></iframe>'
        )


@dataclass
class Budget:
    """Bytes left for previews; once spent, previews are replaced by a note."""

    left: int
    cut: list[str] = field(default_factory=list)

    def take(self, name: str, fragment: str) -> str:
        if len(fragment) > self.left:
            self.cut.append(name)
            return "<p class='note'>preview left out: the report reached its size budget</p>"
        self.left -= len(fragment)
        return fragment


def redact(value: Any) -> Any:
    """Replace the values of sensitive keys, at any depth."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and SENSITIVE.search(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if type(value).__name__ == "SecretStr":
        return REDACTED
    return value


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
    value = redact(_plain(value))
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
    return "".join(parts)


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None or end is None:
        return ""
    took = (end - start).total_seconds()
    return f"{took * 1000:.0f} ms" if took < 1 else f"{took:.2f} s"


def render(
    run: Run, *, budget: int = DEFAULT_BUDGET, policy: str = CONTENT_SECURITY_POLICY
) -> ReportHTML:
    """The report of a run in any state (a running one says so). ``policy`` is the page's
    Content-Security-Policy."""
    record = run.record
    spec = run.spec
    attempts = run.client.store.attempts(run.id)
    latest = {a.node: a for a in attempts}
    now = dt.datetime.now(dt.UTC)
    start = record.started_at or record.created_at
    end = record.ended_at or now
    saved = run.client.store.documents(run.id)
    spend = Budget(budget)
    # plotly.js goes first when a value needs it, so big tables cannot crowd it out
    codecs_used = {row.output_codec for row in latest.values()} | {d.value_codec for d, _ in saved}
    scripts = ""
    if codecs.PlotlyCodec.name in codecs_used:
        scripts = spend.take("plotly.js, so plotly figures stay undrawn", _plotly_script())
    nodes = []
    for node in spec["nodes"]:
        row = latest.get(node["name"])
        entry: dict[str, Any] = {
            "name": node["name"],
            "kind": node["kind"],
            "status": row.status if row else "pending",
            "attempts": row.attempt if row else 0,
            "duration": _seconds(row.started_at, row.ended_at) if row else "",
            "error": f"{row.error_type}: {row.error_message}" if row and row.error_type else "",
            "traceback": row.traceback if row else None,
            "logs": row.logs if row else None,
            "answered_by": row.answered_by if row else None,
            "output": "",
        }
        if row is not None and row.status == "succeeded":
            try:
                value = run.client.store.load_output(row)
                if node["kind"] == "wait":
                    value = redact(value)
                entry["output"] = spend.take(node["name"], preview(value))
            except PlaitError as exc:
                entry["output"] = f"<p class='note'>output unavailable: {html.escape(str(exc))}</p>"
        nodes.append(entry)
    documents = [
        {
            "name": doc.name,
            "node": doc.node,
            "kind": doc.kind,
            "shown": spend.take(f"document {doc.name}", preview(redact(value), doc.kind)),
        }
        for doc, value in saved
    ]
    statuses = {n["name"]: n["status"] for n in nodes}
    try:
        inputs = redact(run.inputs)
    except PlaitError as exc:
        inputs = {"(unavailable)": str(exc)}
    page = _templates.get_template("report.html.j2").render(
        run=record,
        workflow=spec["name"],
        version=run.client.store.get_version(record.version_id).version,
        description=spec.get("description", ""),
        finished=record.status in ("succeeded", "failed", "cancelled"),
        duration=_seconds(start, record.ended_at) if record.ended_at else "",
        generated=now,
        graph=drawing.render(spec, statuses),
        timeline=_timeline(attempts, start, end),
        inputs=[(k, preview(v)) for k, v in inputs.items()],
        outputs=[n for n in nodes if n["name"] in spec["outputs"] and n["output"]],
        nodes=nodes,
        documents=documents,
        cut=spend.cut,
        scripts=scripts,
        csp=policy,
    )
    return ReportHTML(page)


def write(run: Run, path: str | Path, **options: Any) -> ReportHTML:
    page = render(run, **options)
    Path(path).write_text(page, encoding="utf-8")
    return page
