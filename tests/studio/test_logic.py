"""What the pages compute, without a browser: event application, timeline, graph layout,
generated forms, value previews, version diffs."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pandas as pd
import pydantic
import pytest

from runtime import drafts
from studio.logic import diff, fmt, forms, layout, live, preview, version_node
from tests.studio import flows


def ev(seq: int, kind: str, node: str | None = None, at: float = 0.0, **data: Any) -> dict:
    return {"run_id": "r", "seq": seq, "type": kind, "node": node, "data": data, "at": at}


# -- applying events -------------------------------------------------------------------------


def test_events_build_statuses_and_attempts() -> None:
    view = live.new_view(["a", "b", "w"])
    changed = live.apply(
        view,
        [
            ev(1, "run.queued", at=10.0, status="queued"),
            ev(2, "run.running", at=10.1),
            ev(3, "node.running", "a", 10.2, attempt=1),
            ev(4, "node.retrying", "a", 10.5, attempt=1, error="boom", retry_in=0.1),
            ev(5, "node.running", "a", 10.7, attempt=2),
            ev(6, "node.succeeded", "a", 11.0, attempt=2),
            ev(7, "node.waiting", "w", 11.1, attempt=1),
            ev(8, "node.skipped", "b", 11.1, reason="branch"),
            ev(9, "run.waiting", at=11.2, waiting=["w"]),
        ],
    )
    assert changed == {live.RUN_LEVEL, "a", "b", "w"}
    assert view.statuses == {"a": "succeeded", "b": "skipped", "w": "waiting"}
    assert view.status == "waiting" and view.started_at == 10.1
    first, second = view.nodes["a"].attempts
    assert (first.number, first.status, first.start, first.end) == (1, "failed", 10.2, 10.5)
    assert (second.number, second.status, second.end) == (2, "succeeded", 11.0)

    # the wait is answered: its open attempt closes as succeeded
    live.apply(
        view,
        [ev(10, "node.succeeded", "w", 20.0, answered_by="ann"), ev(11, "run.queued", at=20.0)],
    )
    assert view.nodes["w"].attempts[0].end == 20.0
    assert view.statuses["w"] == "succeeded" and view.status == "queued"


def test_replayed_and_out_of_order_events_change_nothing_twice() -> None:
    events = [
        ev(1, "node.running", "a", 1.0, attempt=1),
        ev(2, "node.succeeded", "a", 2.0, attempt=1),
    ]
    view = live.new_view(["a"])
    live.apply(view, list(reversed(events)))  # a burst arrives in any order
    assert view.statuses == {"a": "succeeded"} and view.last_seq == 2
    assert live.apply(view, events) == set()  # history again after live: no change
    assert len(view.nodes["a"].attempts) == 1


def test_every_split_of_a_stream_into_bursts_gives_the_same_view() -> None:
    stream = [
        ev(1, "run.running", at=0.0),
        ev(2, "node.running", "a", 0.1, attempt=1),
        ev(3, "node.failed", "a", 0.2, attempt=1, error="x"),
        ev(4, "node.running", "b", 0.3, attempt=1),
        ev(5, "node.succeeded", "b", 0.4, attempt=1),
        ev(6, "run.failed", at=0.5, error="node(s) failed: a"),
    ]
    whole = live.new_view(["a", "b"])
    live.apply(whole, stream)
    for cut in itertools.combinations(range(1, len(stream)), 2):
        view = live.new_view(["a", "b"])
        for part in (stream[: cut[0]], stream[cut[0] : cut[1]], stream[cut[1] :]):
            live.apply(view, part)
        assert view == whole
    assert whole.error == "node(s) failed: a" and whole.finished


def test_a_cancelled_run_stops_its_open_nodes() -> None:
    view = live.new_view(["a", "w", "c"])
    live.apply(
        view,
        [
            ev(1, "node.running", "a", 1.0, attempt=1),
            ev(2, "node.waiting", "w", 1.0, attempt=1),
            ev(3, "run.cancel_requested", at=1.5),
            ev(4, "run.cancelled", at=2.0, status="cancelled"),
        ],
    )
    assert view.cancel_requested
    assert view.statuses == {"a": "cancelled", "w": "cancelled", "c": "pending"}
    assert view.nodes["a"].attempts[0].end == 2.0


def test_an_interrupted_attempt_shows_the_node_retrying_until_it_runs_again() -> None:
    view = live.new_view(["a"])
    live.apply(
        view,
        [
            ev(1, "node.running", "a", 1.0, attempt=1),
            ev(2, "node.interrupted", "a", 5.0, attempt=1),
        ],
    )
    assert view.statuses["a"] == "retrying"
    assert view.nodes["a"].attempts[0].status == "failed"


def test_timeline_places_attempts_on_the_run_span() -> None:
    view = live.new_view(["a", "b", "c"])
    live.apply(
        view,
        [
            ev(1, "run.running", at=100.0),
            ev(2, "node.running", "a", 100.0, attempt=1),
            ev(3, "node.retrying", "a", 101.0, attempt=1),
            ev(4, "node.running", "a", 102.0, attempt=2),
            ev(5, "node.succeeded", "a", 103.0, attempt=2),
            ev(6, "node.running", "b", 103.0, attempt=1),
            ev(7, "node.succeeded", "b", 104.0, attempt=1),
            ev(8, "run.succeeded", at=104.0),
        ],
    )
    chart = live.timeline(view, ["a", "b", "c"])
    assert chart.span == "4.0 s"
    assert [r.node for r in chart.rows] == ["a", "b"]  # c never started
    a, b = chart.rows
    assert [(bar.left, bar.width) for bar in a.bars] == [
        ("0.000%", "25.000%"),
        ("50.000%", "25.000%"),
    ]
    assert a.attempts == 2 and a.duration == "3.0 s"
    assert (b.bars[0].left, b.bars[0].width) == ("75.000%", "25.000%")
    assert "attempt 1: failed" in a.bars[0].title


def test_a_running_attempt_reaches_now_on_the_timeline() -> None:
    view = live.new_view(["a"])
    live.apply(view, [ev(1, "run.running", at=0.0), ev(2, "node.running", "a", 0.0, attempt=1)])
    chart = live.timeline(view, ["a"], now=10.0)
    assert chart.rows[0].bars[0].width == "100.000%" and chart.span == "10.0 s"


# -- layout ----------------------------------------------------------------------------------


def _edges_point_forward(spec: dict, direction: layout.Direction) -> bool:
    pos = {p.name: (p.x, p.y) for p in layout.place(spec, direction)}
    axis = 0 if direction == "LR" else 1
    return all(pos[src][axis] < pos[dst][axis] for src, dst in spec["edges"])


@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_layout_places_every_node_once_with_edges_pointing_forward(
    direction: layout.Direction,
) -> None:
    spec = flows.wide.spec()
    placed = layout.place(spec, direction)
    assert sorted(p.name for p in placed) == sorted(n["name"] for n in spec["nodes"])
    assert len({(p.x, p.y) for p in placed}) == len(placed)
    assert _edges_point_forward(spec, direction)


def test_a_wide_layer_is_wrapped_into_columns() -> None:
    g = flows.wide_graph("fan", size=102, fan=100)  # root, 100 in one layer, sink
    placed = layout.place(g.spec(), "LR")
    xs = sorted({p.x for p in placed})
    per_column = max(sum(1 for p in placed if p.x == x) for x in xs)
    assert per_column <= layout.MAX_PER_COLUMN
    assert len(xs) == 2 + 7  # root, ceil(100 / 16) columns, sink
    assert _edges_point_forward(g.spec(), "LR")


def _crossings(spec: dict, ordered: list[list[str]]) -> int:
    index = {n: i for layer in ordered for i, n in enumerate(layer)}
    depth = {n: d for d, layer in enumerate(ordered) for n in layer}
    edges = [(s, t) for s, t in spec["edges"] if depth[t] == depth[s] + 1]
    return sum(
        1
        for (s1, t1), (s2, t2) in itertools.combinations(edges, 2)
        if depth[s1] == depth[s2] and (index[s1] - index[s2]) * (index[t1] - index[t2]) < 0
    )


def test_ordering_layers_removes_crossings() -> None:
    spec = {
        "nodes": [
            {"name": "a", "depends_on": []},
            {"name": "b", "depends_on": []},
            {"name": "x", "depends_on": ["b"]},
            {"name": "y", "depends_on": ["a"]},
        ],
        "edges": [["b", "x"], ["a", "y"]],
    }
    grouped = layout.layers(spec)
    assert _crossings(spec, grouped) == 1
    assert _crossings(spec, layout.order_layers(spec, grouped)) == 0


def test_auto_direction_shows_nodes_biggest() -> None:
    assert layout.auto_direction(flows.approval.spec()) == "LR"  # small: the usual way
    assert layout.auto_direction(flows.wide.spec()) == "TB"  # 30 layers of 10: top-down


def test_flow_nodes_carry_status_colour_and_selection() -> None:
    spec = flows.approval.spec()
    placed = layout.place(spec, "LR")
    nodes = {n["id"]: n for n in layout.flow_nodes(placed, {"draft": "running"}, "draft")}
    assert "plait-running" in nodes["draft"]["className"]
    assert "plait-selected" in nodes["draft"]["className"]
    assert "plait-kind-wait" in nodes["review"]["className"]
    assert "plait-pending" in nodes["result"]["className"]
    assert nodes["draft"]["style"]["background"] != nodes["result"]["style"]["background"]
    edges = {e["id"]: e for e in layout.flow_edges(spec, {"review": "running"})}
    assert edges["draft->review"]["animated"] and not edges["review->result"]["animated"]


# -- forms -----------------------------------------------------------------------------------


class Pick(pydantic.BaseModel):
    size: int = pydantic.Field(ge=1, le=5)
    colour: str | None = None
    level: int = 2
    urgent: bool = False
    when: pydantic.PastDate | None = None
    tags: list[str] = []


def test_wait_fields_follow_the_schema() -> None:
    schema = flows.Approval.model_json_schema()
    fields = {f.name: f for f in forms.wait_fields(schema)}
    assert fields["amount"].kind == "integer" and fields["amount"].required
    assert fields["amount"].hint == "how many to ship (at least 1)"
    assert fields["decision"].kind == "choice"
    assert fields["decision"].choices == ["approve", "reject"]
    assert fields["decision"].default == "approve" and not fields["decision"].required
    assert fields["note"].kind == "text"
    pick = {f.name: f for f in forms.wait_fields(Pick.model_json_schema())}
    assert pick["size"].hint == ">= 1, <= 5"
    assert pick["colour"].kind == "text" and not pick["colour"].required
    assert pick["urgent"].kind == "boolean" and pick["level"].default == "2"
    assert pick["when"].kind == "date" and pick["tags"].kind == "json"


def test_a_submitted_wait_form_becomes_a_payload_and_errors_map_to_fields() -> None:
    fields = forms.wait_fields(Pick.model_json_schema())
    payload, errors = forms.payload_from_form(fields, {"size": "9", "colour": "", "tags": "[1,"})
    assert payload == {"size": 9, "urgent": False}  # empty left out; unchecked is False
    assert "not valid JSON" in errors["tags"]
    _, typed = forms.payload_from_form(fields, {"size": "nine", "when": "soon"})
    assert typed == {
        "size": "'nine' is not a whole number",
        "when": "'soon' is not a date (YYYY-MM-DD)",
    }
    with pytest.raises(pydantic.ValidationError) as caught:
        Pick.model_validate(payload)
    shown = forms.field_errors(caught.value.errors())
    assert shown == {"size": "Input should be less than or equal to 5"}
    marked = {f.name: f.error for f in forms.with_errors(fields, shown)}
    assert marked["size"] and not marked["colour"]
    good, _ = forms.payload_from_form(fields, {"size": "3", "urgent": "on", "tags": '["x"]'})
    assert Pick.model_validate(good) == Pick(size=3, urgent=True, tags=["x"])


def test_choices_go_back_as_the_schema_values() -> None:
    schema = {"properties": {"n": {"enum": [1, 2, 3]}}, "required": ["n"]}
    payload, _ = forms.payload_from_form(forms.wait_fields(schema), {"n": "2"})
    assert forms.restore_choices(payload, schema) == {"n": 2}


def test_run_form_fields_are_typed_by_annotations_or_defaults() -> None:
    spec = flows.typed.spec()
    untyped = {f.name: f for f in forms.input_fields(spec)}
    assert untyped["count"].kind == "any" and untyped["count"].required
    assert untyped["ratio"].kind == "number" and untyped["ratio"].default == "0.5"
    assert untyped["loud"].kind == "boolean" and not untyped["loud"].checked
    typed = {f.name: f for f in forms.input_fields(spec, forms.annotation_kinds(flows.typed))}
    assert typed["count"].kind == "integer" and typed["label"].kind == "text"


def test_run_form_values_are_converted_and_wrong_ones_named() -> None:
    fields = forms.input_fields(flows.typed.spec(), forms.annotation_kinds(flows.typed))
    inputs, errors = forms.inputs_from_form(fields, {"count": "x", "ratio": "", "label": "hi"})
    assert errors == {"count": "'x' is not a whole number"}
    inputs, errors = forms.inputs_from_form(fields, {"count": "3", "ratio": "", "loud": "on"})
    assert errors == {} and inputs == {"count": 3, "loud": True}  # empty optional: default
    _, errors = forms.inputs_from_form(fields, {})
    assert errors == {"count": "required"}
    anything = [forms.FormField("v", "v", "any", True)]
    assert forms.inputs_from_form(anything, {"v": "[1, 2]"})[0] == {"v": [1, 2]}
    assert forms.inputs_from_form(anything, {"v": "plain words"})[0] == {"v": "plain words"}


# -- previews --------------------------------------------------------------------------------


def test_a_dataframe_preview_is_a_capped_table_with_its_shape() -> None:
    frame = pd.DataFrame({f"c{i}": range(120) for i in range(40)})
    shown = preview.preview(frame)
    assert shown.kind == "table"
    assert shown.summary == "DataFrame: 120 rows, 40 columns"
    assert len(shown.rows) == preview.MAX_ROWS and len(shown.columns) == 1 + preview.MAX_COLS
    assert shown.rows[1][:3] == ["1", "1", "1"]
    assert "first 50 rows and 30 columns" in shown.note


def test_text_previews_render_markdown_when_it_looks_like_markdown() -> None:
    assert preview.preview("# Title\n\nbody").kind == "markdown"
    assert preview.preview("**bold** claim").kind == "markdown"
    assert preview.preview("plain words").kind == "text"
    long = preview.preview("x" * (preview.MAX_TEXT + 5))
    assert len(long.text) == preview.MAX_TEXT and "first 20,000" in long.note


def test_json_previews_are_a_tree_that_folds() -> None:
    value = {"a": 1, "items": [{"name": "x"}, {"name": "y"}], "z": None}
    shown = preview.preview(value)
    assert shown.kind == "json" and shown.summary == "dict: 3 keys"
    rows = [(r.path, r.depth, r.key, r.value) for r in shown.json_rows]
    assert rows[:4] == [
        ("$", 0, "", "{3 keys}"),
        ("$.a", 1, "a", "1"),
        ("$.items", 1, "items", "[2 items]"),
        ("$.items[0]", 2, "[0]", "{1 keys}"),
    ]
    folded = preview.visible_rows(shown.json_rows, ["$.items"])
    assert [r.path for r in folded] == ["$", "$.a", "$.items", "$.z"]
    model = preview.preview(flows.Approval(amount=2))
    assert model.summary == "Approval: 3 keys"


def test_png_bytes_show_as_a_picture_other_bytes_as_their_size() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 10
    assert preview.preview(png).image.startswith("data:image/png;base64,")
    assert preview.preview(b"abc").summary == "3 bytes"


def test_charts_show_as_pictures_and_plotly_figures_as_their_traces() -> None:
    import plotly.graph_objects as go

    from runtime.codecs import Picture

    chart = preview.preview(Picture("image/svg+xml", b"<svg/>"))
    assert (chart.kind, chart.image) == ("image", "data:image/svg+xml;base64,PHN2Zy8+")
    figure = go.Figure([go.Bar(x=["a"], y=[1]), go.Scatter(x=[1], y=[2])])
    shown = preview.preview(figure)
    assert shown.summary == "plotly figure: 2 trace(s) (bar, scatter)"
    assert shown.kind == "plotly" and [t["type"] for t in shown.figure["data"]] == [
        "bar",
        "scatter",
    ]
    assert "template" not in shown.figure["layout"]
    huge = preview.preview(go.Figure(go.Scatter(y=list(range(200_000)))))
    assert huge.kind == "json" and huge.note.startswith("too big to draw here")


# -- diffs and formats -----------------------------------------------------------------------


def test_version_diff_names_what_changed() -> None:
    old = {
        "description": "v1",
        "nodes": [
            {"name": "a", "kind": "function", "depends_on": [], "policies": {"retries": 0}},
            {"name": "b", "kind": "function", "depends_on": ["a"], "policies": {"retries": 0}},
            {"name": "gone", "kind": "function", "depends_on": []},
            {"name": "get", "kind": "http", "depends_on": [], "options": {"url": "http://a"}},
        ],
        "edges": [["a", "b"]],
    }
    new = {
        "description": "v2",
        "nodes": [
            {"name": "a", "kind": "function", "depends_on": [], "policies": {"retries": 0}},
            {"name": "c", "kind": "wait", "depends_on": []},
            {"name": "b", "kind": "function", "depends_on": ["a", "c"], "policies": {"retries": 3}},
            {"name": "get", "kind": "http", "depends_on": [], "options": {"url": "http://b"}},
        ],
        "edges": [["a", "b"], ["c", "b"]],
    }
    rows = {r.node: r for r in diff.rows(drafts.diff_specs(old, new), old, new)}
    assert rows["a"].change == "same"
    assert rows["b"].change == "changed"
    assert rows["b"].detail == "depends_on: +c; policies.retries 0 → 3"
    assert (rows["c"].change, rows["c"].detail) == ("added", "wait")
    assert rows["gone"].change == "removed"
    # a library node's config, field by field
    assert [(x.field, x.old, x.new) for x in rows["get"].lines] == [
        ("options.url", '"http://a"', '"http://b"')
    ]
    assert rows["(workflow)"].detail == 'description "v1" → "v2"'
    assert diff.summary(list(rows.values())) == "1 added, 1 removed, 3 changed"
    assert list(rows)[-1] == "gone"  # removed ones come last

    nodes, edges = diff.diff_graph(old, new, list(rows.values()), "LR")
    marked = {n["id"]: n["className"].split()[-1] for n in nodes}
    assert marked == {
        "a": "plait-diff-same",
        "b": "plait-diff-changed",
        "c": "plait-diff-added",
        "get": "plait-diff-changed",
        "gone": "plait-diff-removed",  # drawn, though the new version has no such node
    }
    assert [e["id"] for e in edges if e.get("className") == "plait-diff-edge"] == ["c->b"]


def test_a_code_change_is_shown_as_a_unified_diff() -> None:
    change = drafts.Change("code", "def f(x):\n    return x + 1\n", "def f(x):\n    return x + 2\n")
    found = drafts.VersionDiff([], [], {"f": [change]}, [], [])
    spec = {"nodes": [{"name": "f", "kind": "function"}]}
    (row,) = diff.rows(found, spec, spec)
    assert row.detail == "code changed"
    assert row.lines[0].code[-2:] == ["-    return x + 1", "+    return x + 2"]
    unrecorded = drafts.VersionDiff([], [], {"f": [drafts.Change("code", None, None)]}, [], [])
    assert diff.rows(unrecorded, spec, spec)[0].detail == "code changed (source not recorded)"
    # the same source on both sides: what changed is code it calls
    same = drafts.Change("code", "def f(): return g()", "def f(): return g()")
    helper = drafts.VersionDiff([], [], {"f": [same]}, [], [])
    (row,) = diff.rows(helper, spec, spec)
    assert row.detail == "code changed in code it calls (its own source reads the same)"
    assert row.lines[0].code == []


def test_a_picked_node_shows_what_it_runs() -> None:
    spec = {
        "nodes": [
            {
                "name": "clean",
                "kind": "function",
                "inputs": {"value": "load"},
                "after": ["warm"],
                "policies": {"retries": 2, "timeout": None, "isolation": "thread"},
                "code": "flows:_step",
                "doc": "Cleans.",
            },
            {"name": "get", "kind": "http", "options": {"url": "http://x"}, "secrets": ["tok"]},
        ]
    }
    view = version_node.node_view(spec, "clean", {"clean": "def _step(value): ..."})
    assert (view.kind, view.doc, view.source) == ("function", "Cleans.", "def _step(value): ...")
    assert view.wiring == ["value ← load", "after warm"]
    assert view.policies == "retries 2 · isolation thread"
    unrecorded = version_node.node_view(spec, "clean")
    assert unrecorded.source == "" and "flows:_step" in unrecorded.source_note
    library = version_node.node_view(spec, "get")
    assert '"url": "http://x"' in library.config and library.source_note == ""
    assert library.secrets == ["tok"]
    assert version_node.node_view(spec, "nope").name == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (0.0123, "12 ms"), (3.21, "3.2 s"), (125, "2 min 5 s"), (7300, "2 h 1 min")],
)
def test_durations_read_naturally(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (None, "never"),
        (dt.timedelta(seconds=30), "in 1 min"),
        (dt.timedelta(minutes=59, seconds=59), "in 59 min"),
        (dt.timedelta(hours=23, minutes=59), "in 23 h"),
        (dt.timedelta(days=7), "in 7 d"),
        (-dt.timedelta(hours=2), "2 h ago"),
    ],
)
def test_expiry_reads_as_time_left(offset: dt.timedelta | None, text: str) -> None:
    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    assert fmt.until(None if offset is None else now + offset, now) == text


def test_settings_rows_never_carry_a_secret_or_token() -> None:
    import datetime as dt

    from runtime.auth.apikeys import KeyInfo
    from runtime.secrets import SecretInfo
    from studio.logic import access

    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    key = KeyInfo("3fa9c2d14b07", "ci", "editor", ("billing",), "ada", now, None, None, None)
    row = access.key_row(key)
    assert (row.state, row.workflows, row.expires, row.last_used) == (
        "active",
        "billing",
        "never",
        "never",
    )
    assert (
        access.secret_row(SecretInfo("OPENAI_API_KEY", now, "ada", now, "bob")).updated_by == "bob"
    )
    assert access.workflow_list(" a, b ,,") == ["a", "b"] and access.workflow_list(" ") is None
