"""The studio's look in one place: status colours (shared with every Plait view), sizes,
and the global CSS the graph and timeline need."""

from __future__ import annotations

from runtime.drawing import STATUS_COLOURS

COLOURS: dict[str, str] = {
    **STATUS_COLOURS,
    "queued": "#e5e7eb",
    # pending, skipped and cancelled were three greys: each gets a hue of its own
    "skipped": "#f5d0fe",
    "cancelled": "#a8a29e",
}
"""Fill colour per node or run status."""

BADGE: dict[str, str] = {
    "scheduled": "cyan",
    "queued": "gray",
    "pending": "gray",
    "running": "blue",
    "waiting": "amber",
    "in_subgraph": "blue",
    "sleeping": "violet",
    "succeeded": "green",
    "cached": "teal",
    "failed": "red",
    "cancelled": "brown",
    "skipped": "plum",
    "retrying": "orange",
    "not_needed": "gray",
}
"""Radix colour scheme of a status badge."""

ACCENT = "indigo"
PAGE_MAX_WIDTH = "1400px"
GRAPH_HEIGHT = "460px"
BIG_GRAPH, BIG_GRAPH_HEIGHT = 60, "760px"
"""Graphs with more nodes than this get a taller panel."""
STATUS_ICONS: dict[str, str] = {
    "pending": "circle-dashed",
    "running": "loader",
    "waiting": "hand",
    "sleeping": "moon",
    "retrying": "rotate-cw",
    "succeeded": "circle-check",
    "cached": "database",
    "failed": "circle-x",
    "skipped": "skip-forward",
    "cancelled": "ban",
    "not_needed": "minus",
}
"""Lucide icon per node status: the counts and legend say a status without colour too."""

MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"


def status_colour(status: str) -> str:
    return COLOURS.get(status, COLOURS["pending"])


GLOBAL_CSS = """
.react-flow__node.plait-node {
  border: 1px solid #374151; border-radius: 6px; font-size: 12px; padding: 0 6px;
  display: flex; align-items: center; justify-content: center; overflow: hidden;
  white-space: nowrap; text-overflow: ellipsis; color: #111827;
}
.react-flow__node.plait-kind-wait, .react-flow__node.plait-kind-approval { border-style: dashed; }
.react-flow__node.plait-untaken { border-style: dashed; border-color: #9ca3af; opacity: .75; }
.react-flow__node.plait-running {
  box-shadow: 0 0 0 3px #2563eb; animation: plait-pulse 1.2s infinite;
}
.react-flow__node.plait-waiting { box-shadow: 0 0 0 3px #d97706; }
.react-flow__node.plait-sleeping { box-shadow: 0 0 0 3px #7c3aed; }
.react-flow__node.plait-streaming { border: 2px dotted #4f46e5; }
.plait-stream { border-color: #c7d2fe; background: #eef2ff; }
.react-flow__node.plait-dim { opacity: .3; }
.react-flow__node.plait-match { opacity: 1; box-shadow: 0 0 0 3px #f59e0b; font-weight: 600; }
.react-flow__node.plait-selected { outline: 2px solid #4f46e5; outline-offset: 3px; }
@keyframes plait-pulse { 50% { box-shadow: 0 0 0 6px rgba(37, 99, 235, 0.35); } }
.plait-gantt-row { position: relative; height: 18px; background: #f9fafb; border-radius: 3px; }
.plait-gantt-bar { position: absolute; top: 2px; height: 14px; border-radius: 3px;
  border: 1px solid rgba(0,0,0,.25); min-width: 2px; }
.plait-pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12px; white-space: pre-wrap; word-break: break-word; background: #f9fafb;
  border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; max-height: 420px;
  overflow: auto; margin: 0; }
.plait-pre.plait-error { background: #fef2f2; border-color: #fecaca; }
.plait-frame td, .plait-frame th { font-size: 12px; padding: 2px 8px; white-space: nowrap; }
/* without colour: pending dotted, skipped hatched, cancelled struck through */
.react-flow__node.plait-pending { border-style: dotted; }
.react-flow__node.plait-skipped { background-image: repeating-linear-gradient(
  45deg, transparent 0 6px, rgba(0,0,0,.12) 6px 8px); }
.react-flow__node.plait-cancelled { text-decoration: line-through; border-width: 2px; }
.plait-nav-current { text-decoration: underline; text-underline-offset: 6px;
  text-decoration-thickness: 2px; }
/* on a phone the minimap would cover half the graph: pan and zoom instead */
@media (max-width: 640px) { .plait-graph .react-flow__minimap { display: none; } }
/* a table wider than its box (a phone) scrolls inside it; the page never scrolls sideways */
.rt-TableRoot { max-width: 100%; overflow-x: auto; }
.rt-TableRoot .rt-ScrollAreaViewport { overflow-x: auto; }
.plait-json-row { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12px; line-height: 1.6; white-space: nowrap; }
"""


def radix_theme() -> object:
    """The Radix theme (configured in ``rxconfig.py``)."""
    import reflex as rx

    # light whatever the OS prefers: the graph, timeline and tracebacks are drawn for it
    return rx.theme(appearance="light", accent_color=ACCENT, radius="medium")
