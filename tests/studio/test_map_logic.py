"""The run page's map parts without a browser: a map collapsed into one line with its
progress and failures by index, and its panel (histogram of element durations, elements a
page at a time) read from a real run."""

from __future__ import annotations

from typing import Any

import runtime as rt
from runtime import mapview
from runtime.redaction import Redactor
from studio import data
from studio.logic import live, maps
from studio.logic.run_page import RunPage
from tests import map_flows


def ev(seq: int, kind: str, node: str | None = None, **payload: Any) -> dict:
    return {"run_id": "r", "seq": seq, "type": kind, "node": node, "data": payload, "at": 0.0}


def test_progress_events_make_one_line_per_map() -> None:
    spec = {"name": "g", "nodes": [{"name": "items", "kind": "function"}], "edges": []}
    spec["nodes"].append({"name": "sq", "kind": "map"})
    page = RunPage.create(spec)
    changed = page.apply(
        [
            ev(
                1,
                "map.progress",
                "sq",
                total=1000,
                succeeded=300,
                failed=0,
                running=16,
                failures=[],
            ),
            ev(
                2,
                "map.progress",
                "sq",
                total=1000,
                succeeded=312,
                failed=1,
                running=16,
                failures=[[7, "ValueError", "bad 7"]],
            ),
        ]  # type: ignore[arg-type]
    )
    assert changed == {"sq"}
    assert page.view.maps["sq"].text == "312/1000"
    (line,) = page.render()["maps"]
    assert line == maps.MapLine("sq", "312/1000", 1, "[7] ValueError: bad 7")
    assert "maps" not in page.render()  # unchanged: not handed out again
    labels = {n["id"]: n["data"]["label"] for n in page.shown["flow_nodes"]}
    assert labels == {"items": "items", "sq": "sq 312/1000"}  # the map is one node
    live.apply(page.view, [ev(2, "map.progress", "sq", total=1, succeeded=1)])  # type: ignore[list-item]
    assert page.view.maps["sq"].text == "312/1000"  # a replayed event changes nothing


def test_the_panel_pages_elements_and_bins_their_durations() -> None:
    elements = [mapview.Element(i, "succeeded", 1, 0.01 * (i % 5), None) for i in range(120)]
    progress = mapview.MapProgress(total=200, succeeded=120)
    panel = maps.panel(progress, elements, 50, Redactor(), page_size=50)
    assert [e.index for e in panel.elements] == list(range(50, 100))
    assert panel.page == "elements 50 to 99 of 200" and panel.total == 200
    assert len(panel.histogram) == mapview.HISTOGRAM_BINS
    assert max(b.height for b in panel.histogram) == "100%"
    assert panel.span == "0 ms to 40 ms"
    last = maps.panel(progress, elements, 10_000, Redactor())
    assert [e.index for e in last.elements] == [119]  # past the end: the last page


def test_the_node_panel_of_a_map_lists_its_elements(client: rt.Client) -> None:
    run = map_flows.collecting.run(n=60).wait(60)
    assert run.status == "succeeded", run.error
    detail = data.node_detail(client, run.id, "checked", run.spec)
    panel = detail.map
    assert panel.progress == "58/60" and panel.total == 60
    assert panel.failures == "[2] ValueError: no 2; [5] ValueError: no 5"
    assert [e.index for e in panel.elements] == list(range(50))
    assert panel.elements[2].status == "failed" and panel.elements[2].error == "ValueError: no 2"
    assert panel.histogram
    second = data.map_panel(client, run.id, "checked", 50)
    assert [e.index for e in second.elements] == list(range(50, 60))
    assert data.node_detail(client, run.id, "items", run.spec).map == maps.MapPanel()
