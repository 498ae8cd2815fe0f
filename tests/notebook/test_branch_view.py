"""Untaken branch paths in the notebook view and the SVG drawing (shared with the report):
greyed and dashed, told apart from nodes skipped behind a failure."""

from __future__ import annotations

import re

import runtime as rt
from runtime import drawing as svg
from runtime.notebook.display import static_bundle
from runtime.notebook.view import RunModel, RunView
from tests.core.test_branches import _routed


def _node_svg(drawing: str, name: str) -> str:
    match = re.search(rf'<g class="node" data-node="{name}"[^>]*>.*?</g>', drawing)
    assert match, name
    return match.group(0)


def test_the_drawing_greys_untaken_nodes_and_their_edges() -> None:
    g, _ = _routed()
    spec = g.spec()
    statuses = {
        "route": "succeeded",
        "big": "succeeded",
        "small": "skipped",
        "shout": "succeeded",
        "report": "succeeded",
        "audit": "skipped",
    }
    drawing = svg.render(spec, statuses)
    small = _node_svg(drawing, "small")
    assert 'data-untaken="true"' in small and "small (function): skipped (untaken)" in small
    assert f'fill="{svg.UNTAKEN_COLOURS["fill"]}"' in small and "stroke-dasharray" in small
    assert 'data-untaken="true"' not in _node_svg(drawing, "big")
    dashed = re.findall(r'<line [^>]*data-untaken="true"[^>]*/>', drawing)
    assert len(dashed) == 4  # route->small, small->report, big->audit, small->audit
    # skipped behind a failure: drawn as skipped, not greyed as untaken
    failed = svg.render(spec, {**statuses, "big": "failed", "shout": "skipped"})
    assert 'data-untaken="true"' not in _node_svg(failed, "shout")
    assert 'data-untaken="true"' not in _node_svg(failed, "audit")
    assert 'data-untaken="true"' in _node_svg(failed, "small")


def test_the_view_model_shows_untaken_nodes_with_the_reason(sqlite_client: rt.Client) -> None:
    g, _ = _routed()
    run = g.run(amount=5).wait(30)
    assert run.status == "succeeded", run.error
    model = RunModel(run.spec)
    for event in run.events():
        model.apply(event)
    assert model.untaken() == {"big", "shout", "audit"}
    assert model.progress() == (6, 6)  # untaken nodes are done, not failed
    table = RunView._table_html(model)
    row = re.search(r"<tr data-node='big'[^>]*>.*?</tr>", table)
    assert row is not None
    assert "data-untaken='true'" in row.group(0) and "skipped (untaken)" in row.group(0)
    assert "not taken: branch &#x27;route&#x27; took small" in row.group(0)
    drawing = model.svg()
    assert 'data-node="shout" data-status="skipped" data-untaken="true"' in drawing
    assert "→ small · " in _node_svg(drawing, "route")  # the branch says where it went


def test_the_static_snapshot_greys_the_untaken_path_too(sqlite_client: rt.Client) -> None:
    g, _ = _routed()
    run = g.run(amount=500).wait(30)
    page = static_bundle(run)["text/html"]
    row = re.search(r"<tr data-node='small'[^>]*>.*?</tr>", page)
    assert row is not None and "data-untaken='true'" in row.group(0)
    assert "not taken: branch &#x27;route&#x27; took big" in row.group(0)
    assert "None:" not in row.group(0)
