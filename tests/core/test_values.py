"""Values through the store: DataFrames, bytes, LangChain messages, pickle opt-in."""

from __future__ import annotations

from unittest.mock import ANY

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import runtime as rt
from runtime import api
from runtime.store import tables


def frame() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "city": pd.Series(["Oslo", "Lima", None], dtype="string"),
            "temp": np.array([1.5, 19.25, np.nan]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "when": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
            "kind": pd.Categorical(["a", "b", "a"]),
        },
        index=pd.Index([10, 20, 30], name="station"),
    )
    df.columns.name = "measure"
    return df


def test_dataframe_round_trips_with_dtypes_index_and_names(client: rt.Client) -> None:
    g = rt.Graph("frames")

    @g.node
    def table() -> pd.DataFrame:
        return frame()

    @g.node
    def column(table: pd.DataFrame) -> pd.Series:
        return table["temp"].rename("temperature")

    run = g.run().wait(10)
    assert run.status == "succeeded", run.error
    pd.testing.assert_frame_equal(run.output("table"), frame())
    pd.testing.assert_series_equal(run.output("column"), frame()["temp"].rename("temperature"))


def test_large_values_are_stored_once_by_content_hash(client: rt.Client) -> None:
    big = pd.DataFrame({"x": np.arange(100_000), "y": np.arange(100_000) * 0.5})
    g = rt.Graph("big")

    @g.node
    def data() -> pd.DataFrame:
        return big

    first = g.run().wait(30)
    second = g.run().wait(30)
    assert first.status == second.status == "succeeded"
    pd.testing.assert_frame_equal(second.output("data"), big)
    with client.store.read() as conn:
        blobs = conn.execute(sa.select(tables.blob.c.size)).scalars().all()
    assert len(blobs) == 1


def test_bytes_and_small_json(client: rt.Client) -> None:
    g = rt.Graph("mixed")

    @g.node
    def raw() -> bytes:
        return b"\x00\xffpng"

    @g.node
    def doc(raw: bytes) -> dict:
        return {"size": len(raw), "nested": [1, {"a": None}]}

    run = g.run().wait(10)
    assert run.output("raw") == b"\x00\xffpng"
    assert run.outputs == {"doc": {"size": 5, "nested": [1, {"a": None}]}}


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


def test_unstorable_output_names_node_and_type(client: rt.Client) -> None:
    g = rt.Graph("unstorable")

    @g.node
    def point() -> Point:
        return Point(3)

    run = g.run().wait(10)
    assert run.status == "failed"
    info = run.nodes["point"]
    assert info.error_type == "CodecError"
    assert "output of node 'point'" in info.error
    assert "Point" in info.error and "pickle=True" in info.error
    assert info.attempts == 1  # not retried: it would fail the same way


def test_pickle_opt_in_per_node(client: rt.Client) -> None:
    g = rt.Graph("pickled")

    @g.node(pickle=True)
    def point() -> Point:
        return Point(3)

    @g.node
    def x(point: Point) -> int:
        return point.x

    run = g.run().wait(10)
    assert run.status == "succeeded", run.error
    assert run.outputs == {"x": 3}
    assert run.output("point").x == 3


def test_tampered_pickle_is_refused(client: rt.Client) -> None:
    g = rt.Graph("pickled_tamper")

    @g.node(pickle=True)
    def point() -> Point:
        return Point(3)

    run = g.run().wait(10)
    forged = b"PLAIT-HMAC1" + b"\0" * 32 + b"not what was signed"
    with client.store.write() as conn:
        conn.execute(
            sa.update(tables.node_run)
            .where(tables.node_run.c.run_id == run.id)
            .values(output_inline=forged)
        )
    with pytest.raises(rt.SignatureError):
        run.output("point")


def test_charts_are_stored_as_pictures_and_plotly_figures(client: rt.Client) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    g = rt.Graph("charts")

    @g.node
    def line() -> object:
        figure, ax = plt.subplots()
        ax.plot([1, 2, 3], [2, 4, 3], label="sales")
        ax.set_title("Sales by month")
        return figure

    @g.node
    def cloud() -> object:  # too many points for a small SVG: stored as PNG
        figure, ax = plt.subplots()
        ax.scatter(np.arange(40_000), np.sin(np.arange(40_000)), s=1)
        return figure

    @g.node
    def bars() -> go.Figure:
        return go.Figure(go.Bar(x=["a", "b"], y=[3, 5]), layout={"title": {"text": "Votes"}})

    @g.node
    def width(line: rt.Picture) -> int:  # downstream nodes get the picture
        return len(line.data)

    run = g.run().wait(60)
    assert run.status == "succeeded", run.error
    picture = run.output("line")
    assert isinstance(picture, rt.Picture) and picture.mime == "image/svg+xml"
    assert b"Sales by month" in picture.data
    assert set(picture._repr_mimebundle_()) == {"image/svg+xml"}
    assert run.output("cloud").mime == "image/png"
    assert run.output("cloud").data.startswith(b"\x89PNG")
    plotted = run.output("bars")
    assert isinstance(plotted, go.Figure) and plotted.layout.title.text == "Votes"
    assert list(plotted.data[0].y) == [3, 5]
    assert run.output("width") == len(picture.data)
    assert plt.get_fignums() == []  # drawn and closed: a worker keeps no figure
    assert api.jsonable(picture) == {"type": "picture", "mime": "image/svg+xml", "size": ANY}
    shown = api.jsonable(plotted)
    assert shown["type"] == "plotly" and shown["figure"]["data"][0]["type"] == "bar"
    assert "template" not in shown["figure"]["layout"]


def test_a_picture_is_an_svg_or_a_png() -> None:
    with pytest.raises(rt.CodecError, match="a Picture is image/svg"):
        rt.Picture("text/html' onerror='alert(1)", b"")
