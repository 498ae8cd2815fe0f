"""Rich display for graphs and runs. A graph is a static picture (an <img> data URI survives
untrusted notebooks, where inline SVG is sanitised); a run is a live widget with a static
HTML snapshot as fallback."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Any

from runtime import drawing as svg

if TYPE_CHECKING:
    from runtime.client import Run
    from runtime.graph import Graph


def graph_bundle(graph: Graph) -> dict[str, Any]:
    spec = graph.spec()
    picture = svg.render(spec)
    data_uri = "data:image/svg+xml;base64," + base64.b64encode(picture.encode()).decode()
    inputs = ", ".join(spec["inputs"]) or "none"
    caption = (
        f"<div class='plait-graph-caption'><b>{html.escape(graph.name)}</b> — "
        f"{len(spec['nodes'])} nodes, inputs: {html.escape(inputs)}, "
        f"version {graph.version}</div>"
    )
    return {
        "text/html": f"{caption}<img alt='graph {html.escape(graph.name)}' src='{data_uri}'/>",
        "image/svg+xml": picture,
        "text/plain": repr(graph),
    }


def display_run(run: Run) -> None:
    from IPython.display import display

    view = run.view
    bundle = view.box._repr_mimebundle_() if hasattr(view.box, "_repr_mimebundle_") else {}
    bundle = dict(bundle or {})
    bundle["text/plain"] = repr(run)
    bundle["text/html"] = view.banner.value + view.graph.value + view.table.value
    display(bundle, raw=True)
