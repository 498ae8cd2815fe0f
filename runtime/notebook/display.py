"""Rich display for graphs and runs. A graph is a static picture (an <img> data URI survives
untrusted notebooks, where inline SVG is sanitised); a run is a live widget with a static
HTML snapshot as fallback."""

from __future__ import annotations

import base64
import html
import threading
from typing import TYPE_CHECKING, Any

from runtime import drawing as svg
from runtime import redaction
from runtime.errors import PlaitError
from runtime.statuses import RUN_FINISHED

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
    """Show the live widget, with a static ``text/html``/``text/plain`` snapshot for viewers
    without widgets (GitHub, nbviewer, an nbconvert/papermill output). The snapshot is
    refreshed when each cell finishes and, in an unattended kernel (nbconvert, papermill),
    when the run ends, so a saved notebook shows the state the run was in, not the ``queued``
    it had when it was first displayed.

    A front end re-renders the widget on each update, so where a person watches, updates
    happen only as a cell ends, and not while the run waits (a form may be half filled)."""
    from IPython.display import display

    from runtime.notebook.kernel import unattended

    view = run.view
    widget = view.box._repr_mimebundle_() if hasattr(view.box, "_repr_mimebundle_") else {}
    shown = _Shown(run, dict(widget or {}), watched=not unattended())
    bundle = shown.bundle()
    shown.last = (bundle["text/html"], bundle["text/plain"])
    shown.handle = display(bundle, raw=True, display_id=True)
    with _LOCK:
        _SHOWN.append(shown)
    _refresh_after_each_cell()
    if not shown.watched:
        view.when_finished(shown.refresh)


class _Shown:
    """One displayed run and the display it can update."""

    def __init__(self, run: Run, widget: dict[str, Any], *, watched: bool) -> None:
        self.run = run
        self.widget = widget
        """The widget-view part of the bundle (kept on every update: the live view)."""
        self.watched = watched
        """Shown in a front end a person uses (not nbconvert/papermill)."""
        self.handle: Any = None
        self.last: tuple[str, str] | None = None
        self.lock = threading.Lock()

    def bundle(self) -> dict[str, Any]:
        return {**self.widget, **static_bundle(self.run)}

    def refresh(self) -> None:
        """Update the display if the snapshot changed; forget it once the run has ended."""
        with self.lock:
            try:
                bundle = self.bundle()
            except PlaitError:
                return  # the store is unreachable: keep the last snapshot
            now = (bundle["text/html"], bundle["text/plain"])
            if self.watched and self.run.status == "waiting":
                return  # re-rendering would drop what is typed into the form
            if now != self.last and self.handle is not None:
                self.handle.update(bundle, raw=True)
                self.last = now
            if self.run.status in RUN_FINISHED:
                with _LOCK:
                    if self in _SHOWN:
                        _SHOWN.remove(self)


_SHOWN: list[_Shown] = []
_LOCK = threading.Lock()
_HOOKED: set[int] = set()


def _refresh_after_each_cell() -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or id(shell) in _HOOKED:
        return
    _HOOKED.add(id(shell))
    shell.events.register("post_run_cell", _after_cell)


def _after_cell(*_: Any) -> None:
    with _LOCK:
        shown = list(_SHOWN)
    for one in shown:
        one.refresh()


def static_bundle(run: Run) -> dict[str, str]:
    """The run as it is now, read from the store: a banner, the graph (an ``<img>``: inline
    SVG is stripped from untrusted notebooks) and the node table, and a one-line text."""
    from runtime.notebook.view import RunModel, RunView

    status, nodes, waiting = run.status, run.nodes, sorted(run.waiting)
    model = RunModel(run.spec, status=status)
    model.run_wake_at = run.record.wake_at
    for name, info in nodes.items():
        model.nodes[name] = info.status
        model.attempts[name] = info.attempts
        if info.wake_at is not None:
            model.wake_at[name] = info.wake_at
        if info.started_at and info.ended_at:
            model.started[name] = info.started_at.timestamp()
            model.ended[name] = info.ended_at.timestamp()
        if info.status == "skipped":  # why: a failure upstream, or an untaken branch path
            model.reasons[name] = info.error or ""
        elif info.error:
            model.errors[name] = f"{info.error_type}: {info.error}"
    done, total = model.progress()
    name = run.spec["name"]
    state = "finished" if status in RUN_FINISHED else status
    wait_text = f"; waiting for input: {', '.join(waiting)}" if waiting else ""
    picture = model.svg()
    data_uri = "data:image/svg+xml;base64," + base64.b64encode(picture.encode()).decode()
    shown = redaction.for_run(run)
    banner = (
        f"<div class='plait-banner' data-state='{state}' data-status='{status}'>"
        f"<b>{html.escape(name)}</b> run <code>{run.id[:12]}</code>: "
        f"<b>{model.banner_status()}</b> — "
        f"{done}/{total} nodes done{html.escape(wait_text)}</div>"
    )
    return {
        "text/html": banner
        + f"<img alt='run of {html.escape(name)}: {status}' src='{data_uri}'/>"
        + RunView._table_html(model, shown),
        "text/plain": f"<Run {run.id} {name!r}: {model.banner_status()} — {done}/{total} "
        f"nodes done{wait_text}>",
    }
