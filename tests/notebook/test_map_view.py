"""How the notebook view shows a map node: collapsed with its progress, failures by index,
a histogram of element durations and an expandable list of its elements; the shared
``runtime.mapview`` logic under it."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import runtime as rt
from runtime import mapview
from runtime.notebook.view import RunModel, RunView, node_details_html
from tests import map_flows


def test_progress_folds_events_and_names_failures_by_index() -> None:
    progress = mapview.MapProgress()
    progress.fold(
        {
            "total": 1000,
            "succeeded": 300,
            "failed": 1,
            "running": 16,
            "failures": [[7, "ValueError", "bad"]],
        }
    )
    progress.fold(
        {
            "total": 1000,
            "succeeded": 312,
            "failed": 2,
            "running": 16,
            "failures": [[3, "KeyError", "'x'"]],
        }
    )
    assert progress.text == "312/1000"
    assert progress.failures_text() == "[3] KeyError: 'x'; [7] ValueError: bad"
    many = mapview.MapProgress(failures={i: "E: x" for i in range(8)})
    assert many.failures_text(limit=2) == "[0] E: x; [1] E: x; and 6 more"


def test_histogram_bins_cover_every_duration() -> None:
    bins = mapview.histogram([0.1, 0.1, 0.2, 1.1], bins=4)
    assert [c for _, _, c in bins] == [3, 0, 0, 1]
    assert bins[0][0] == 0.1 and abs(bins[-1][1] - 1.1) < 1e-9
    assert mapview.histogram([]) == []
    assert mapview.histogram([0.5, 0.5], bins=3)[0][2] == 2  # all equal: one full bin
    svg = mapview.histogram_svg(bins)
    assert svg.count("<rect") == 4 and "100 ms to 350 ms: 3" in svg


def test_elements_show_each_ones_latest_attempt() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def row(element: int, attempt: int, status: str, **kw: object) -> SimpleNamespace:
        fields = {"error_type": None, "error_message": None, "will_retry": False}
        return SimpleNamespace(
            element=element,
            attempt=attempt,
            status=status,
            started_at=t0,
            ended_at=t0 + dt.timedelta(seconds=element + 1),
            **(fields | kw),
        )

    rows = [
        row(0, 1, "succeeded"),
        row(1, 1, "failed", error_type="OSError", error_message="x", will_retry=True),
        row(1, 2, "failed", error_type="OSError", error_message="y"),
        row(2, 1, "failed", error_type="OSError", error_message="z", will_retry=True),
    ]
    shown = mapview.elements(rows, "running")
    assert [(e.index, e.status, e.attempts, e.error) for e in shown] == [
        (0, "succeeded", 1, None),
        (1, "failed", 2, "OSError: y"),
        (2, "retrying", 1, "OSError: z"),
    ]
    assert shown[1].duration == 2.0


def test_the_view_collapses_a_map_into_one_node_with_its_progress(client: rt.Client) -> None:
    run = map_flows.collecting.run().wait(60)
    assert run.status == "succeeded", run.error
    model = RunModel(run.spec)
    for event in run.events():
        model.apply(event)
    assert model.maps["checked"].text == "6/8"
    table = RunView._table_html(model)
    row = next(r for r in table.split("<tr") if "data-node='checked'" in r)
    assert "6/8" in row and "failed elements: [2] ValueError: no 2; [5] ValueError: no 5" in row
    assert ">6/8<" in model.svg()  # the graph labels the map node with its count

    details = node_details_html(run, "checked")
    assert "class='plait-histogram'" in details and details.count("<rect") >= 1
    assert "<details class='plait-elements'><summary>8 elements</summary>" in details
    listed = details.split("<tbody>")[1]
    # failed elements first, then the others by index
    assert listed.index("data-element='2'") < listed.index("data-element='5'")
    assert listed.index("data-element='5'") < listed.index("data-element='0'")
    assert run.maps["checked"].failed == 2
    assert [e.index for e in run.elements("checked", offset=6, limit=5)] == [6, 7]
