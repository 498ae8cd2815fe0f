"""Previews of node outputs for the node panel: DataFrames as a table with their shape,
text (markdown rendered), JSON as a tree, pictures. Each preview is capped, so what goes over
the websocket stays small whatever a node returned."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from runtime import codecs

MAX_ROWS, MAX_COLS, MAX_CELL = 50, 30, 200
MAX_TEXT = 20_000
MAX_JSON_ROWS = 400
MAX_IMAGE = 1_000_000

_MARKDOWN = re.compile(r"(^|\n)(#{1,6} |[-*] |\d+\. |> |```)|\*\*[^*]+\*\*|\[[^\]]+\]\([^)]+\)")


@dataclass
class JsonRow:
    """One line of a JSON tree."""

    path: str
    """Where the value sits, e.g. ``$.items[2].name``; collapsing a path hides below it."""
    depth: int
    key: str
    value: str
    """The value's text, or a summary such as ``{3 keys}`` for a container."""
    container: bool
    indent: str = "0px"


@dataclass
class Preview:
    """What the node panel shows for one value."""

    kind: str = "none"
    """none | table | text | markdown | json | image | plotly | bytes"""
    summary: str = ""
    """Type and size, e.g. ``DataFrame: 1,000 rows x 5 columns``."""
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    json_rows: list[JsonRow] = field(default_factory=list)
    image: str = ""
    """A ``data:`` URL."""
    figure: dict[str, Any] = field(default_factory=dict)
    """A plotly figure's data and layout."""
    note: str = ""
    """Said when the preview is cut."""


def preview(value: Any, kind: str = "auto") -> Preview:
    """The preview of any stored value (``kind`` is a document kind when known)."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.Series):
        value = value.to_frame()
    if pd is not None and isinstance(value, pd.DataFrame):
        return _table(value)
    if isinstance(value, bytes | bytearray):
        if bytes(value[:8]) == b"\x89PNG\r\n\x1a\n" and len(value) <= MAX_IMAGE:
            png = codecs.Picture("image/png", bytes(value))
            return Preview("image", f"PNG image, {len(value):,} bytes", image=png.data_uri())
        return Preview("bytes", f"{len(value):,} bytes")
    if isinstance(value, codecs.Picture):
        if len(value.data) > MAX_IMAGE:
            return Preview("bytes", f"chart, {len(value.data):,} bytes (too large to preview)")
        return Preview("image", f"chart, {len(value.data):,} bytes", image=value.data_uri())
    if codecs.PlotlyCodec().accepts(value):
        return _plotly(value)
    if isinstance(value, str):
        text, note = _cap(value)
        markdown = kind == "markdown" or (kind == "auto" and bool(_MARKDOWN.search(value)))
        return Preview(
            "markdown" if markdown else "text",
            f"text, {len(value):,} characters",
            text=text,
            note=note,
        )
    plain = _plain(value)
    rows, cut = json_rows(plain)
    note = f"first {MAX_JSON_ROWS} lines shown" if cut else ""
    return Preview("json", _json_summary(plain, value), json_rows=rows, note=note)


def _table(frame: Any) -> Preview:
    n_rows, n_cols = frame.shape
    shown = frame.iloc[:MAX_ROWS, :MAX_COLS]
    columns = [str(c) for c in shown.columns]
    index_name = str(frame.index.name or "")
    rows = [
        [_cell(i), *(_cell(v) for v in row)]
        for i, row in zip(shown.index, shown.itertuples(index=False, name=None), strict=True)
    ]
    note = ""
    if n_rows > MAX_ROWS or n_cols > MAX_COLS:
        note = f"first {min(n_rows, MAX_ROWS)} rows and {min(n_cols, MAX_COLS)} columns shown"
    return Preview(
        "table",
        f"DataFrame: {n_rows:,} rows, {n_cols:,} columns",
        columns=[index_name, *columns],
        rows=rows,
        note=note,
    )


def _cell(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _cap(text: str) -> tuple[str, str]:
    if len(text) <= MAX_TEXT:
        return text, ""
    return text[:MAX_TEXT], f"first {MAX_TEXT:,} of {len(text):,} characters shown"


def _plain(value: Any) -> Any:
    """JSON-like data for models and messages; anything else as it is."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception:
            return repr(value)
    return value


def _plotly(figure: Any) -> Preview:
    """The figure itself, drawn by the node panel's plotly component (as a tree of its traces
    when its JSON is too big to send)."""
    spec = codecs.PlotlyCodec.outline(figure)
    traces = spec.get("data", [])
    kinds = sorted({t.get("type", "scatter") for t in traces})
    summary = f"plotly figure: {len(traces)} trace(s) ({', '.join(kinds) or 'none'})"
    if len(json.dumps(spec)) <= MAX_IMAGE:
        return Preview("plotly", summary, figure=spec)
    rows, cut = json_rows(spec)
    note = "too big to draw here; the run's report draws it" + (
        f"; first {MAX_JSON_ROWS} lines shown" if cut else ""
    )
    return Preview("json", summary, json_rows=rows, note=note)


def _json_summary(plain: Any, original: Any) -> str:
    name = type(original).__name__
    if isinstance(plain, dict):
        return f"{name}: {len(plain)} keys"
    if isinstance(plain, list | tuple):
        return f"{name}: {len(plain)} items"
    return name


def json_rows(value: Any, limit: int = MAX_JSON_ROWS) -> tuple[list[JsonRow], bool]:
    """Flatten a JSON-like value into tree lines (depth-first); the flag says it was cut."""
    rows: list[JsonRow] = []

    def walk(key: str, item: Any, path: str, depth: int) -> bool:
        if len(rows) >= limit:
            return False
        indent = f"{depth * 16}px"
        if isinstance(item, dict):
            rows.append(JsonRow(path, depth, key, f"{{{len(item)} keys}}", True, indent))
            return all(walk(str(k), v, f"{path}.{k}", depth + 1) for k, v in item.items())
        if isinstance(item, list | tuple):
            rows.append(JsonRow(path, depth, key, f"[{len(item)} items]", True, indent))
            return all(walk(f"[{i}]", v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        rows.append(JsonRow(path, depth, key, _scalar(item), False, indent))
        return True

    complete = walk("", value, "$", 0)
    return rows, not complete


def _scalar(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_CELL * 5 else text[: MAX_CELL * 5 - 1] + "…"


def visible_rows(rows: list[JsonRow], collapsed: set[str] | list[str]) -> list[JsonRow]:
    """The rows not hidden under a collapsed container."""
    closed = set(collapsed)
    out = []
    for row in rows:
        if any(row.path != c and _under(row.path, c) for c in closed):
            continue
        out.append(row)
    return out


def _under(path: str, parent: str) -> bool:
    return path.startswith(parent) and path[len(parent) : len(parent) + 1] in (".", "[")
