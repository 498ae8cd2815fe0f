"""Notebook view logic without a kernel: widgets get a dummy comm, clicks and value sets run
their callbacks synchronously."""

from __future__ import annotations

import datetime as dt
import enum
import threading
from typing import Literal

import pandas as pd
import pydantic

import runtime as rt
from runtime import drawing as svg
from runtime.notebook import forms
from runtime.notebook.display import graph_bundle
from runtime.notebook.view import (
    Pacer,
    RunModel,
    RunView,
    node_details_html,
    preview_html,
    wait_until,
)
from runtime.redaction import REDACTED
from tests import secret_flows
from tests.secret_flows import assert_no_secret


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


class Order(pydantic.BaseModel):
    customer: str
    quantity: int = pydantic.Field(ge=1)
    price: float
    express: bool = False
    colour: Colour
    size: Literal["S", "M", "L"] = "M"
    deliver_on: dt.date
    note: str | None = None


def test_form_fields_follow_the_schema() -> None:
    specs = {s.name: s for s in forms.field_specs(Order.model_json_schema())}
    assert {n: s.kind for n, s in specs.items()} == {
        "customer": "text",
        "quantity": "integer",
        "price": "number",
        "express": "boolean",
        "colour": "choice",
        "size": "choice",
        "deliver_on": "date",
        "note": "text",
    }
    assert specs["colour"].choices == ["red", "blue"]
    assert specs["size"].choices == ["S", "M", "L"] and specs["size"].default == "M"
    assert specs["customer"].required and not specs["note"].required
    widgets = {n: forms.make_widget(s) for n, s in specs.items()}
    assert type(widgets["deliver_on"]).__name__ == "DatePicker"
    assert type(widgets["colour"]).__name__ == "Dropdown"
    assert type(widgets["express"]).__name__ == "Checkbox"


def test_invalid_payload_shows_errors_next_to_fields(sqlite_client: rt.Client) -> None:
    g = rt.Graph("orders")
    g.wait("order", Order)

    @g.node
    def total(order: Order) -> float:
        return order.quantity * order.price

    run = g.run().wait(10)
    form = forms.WaitForm("order", run.waiting["order"], lambda p: run.resume("order", p))
    form.fields["customer"].value = "Ada"
    form.fields["quantity"].value = 0  # violates ge=1
    form.fields["price"].value = 2.5
    form.fields["deliver_on"].value = dt.date(2026, 12, 1)
    assert form.send() is False
    assert "greater than or equal to 1" in form.errors["quantity"].value
    assert form.errors["customer"].value == ""
    assert run.status == "waiting"

    form.fields["quantity"].value = 4
    assert form.send() is True
    run.wait(10)
    assert run.outputs == {"total": 10.0}
    assert run.output("order")["deliver_on"] == "2026-12-01"


def test_status_colours_and_svg_hooks() -> None:
    spec = {
        "name": "g",
        "nodes": [
            {"name": "a", "kind": "function", "depends_on": []},
            {"name": "b", "kind": "wait", "depends_on": ["a"]},
        ],
        "edges": [["a", "b"]],
    }
    drawing = svg.render(spec, {"a": "succeeded", "b": "waiting"})
    assert 'data-node="a" data-status="succeeded"' in drawing
    assert f'fill="{svg.STATUS_COLOURS["succeeded"]}"' in drawing
    assert 'data-node="b" data-status="waiting"' in drawing
    assert svg.colour("failed") != svg.colour("succeeded")
    assert svg.layers(spec) == [["a"], ["b"]]


def test_pacer_coalesces_bursts() -> None:
    pacer = Pacer(hz=10)
    pushes = 0
    done = threading.Event()

    def refresher() -> None:
        nonlocal pushes
        while pacer.next_push(timeout=0.5):
            pushes += 1
        done.set()

    thread = threading.Thread(target=refresher)
    thread.start()
    for _ in range(5000):  # a burst of events within a few ms
        pacer.mark()
    pacer.mark(urgent=True)
    assert done.wait(5)
    assert 1 <= pushes <= 3


def test_model_folds_events() -> None:
    model = RunModel({"name": "g", "nodes": [{"name": "a"}, {"name": "w"}], "edges": []})
    model.apply({"seq": 1, "type": "node.running", "node": "a", "data": {"attempt": 1}, "at": 1.0})
    assert model.apply(
        {
            "seq": 2,
            "type": "node.failed",
            "node": "a",
            "data": {"error_type": "E", "error": "x"},
            "at": 1.5,
        }
    )
    assert model.nodes["a"] == "failed" and model.duration("a") == 0.5
    assert model.errors["a"] == "E: x"
    assert model.apply({"seq": 3, "type": "node.waiting", "node": "w", "data": {}, "at": 2.0})
    assert model.waiting == {"w"}


def test_run_view_follows_a_run_and_answers_its_wait(sqlite_client: rt.Client) -> None:
    g = rt.Graph("view_flow")

    @g.node
    def table(n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": range(n)})

    g.wait("scale", {"factor": int}, after=["table"])

    @g.node
    def scaled(table: pd.DataFrame, scale: dict) -> pd.DataFrame:
        return table.assign(y=table.x * scale["factor"])

    run = g.run(n=4)
    view = RunView(run)
    wait_until(lambda: "data-status='waiting'" in view.banner.value, timeout=10)
    assert len(view.forms.children) == 1
    form = view._forms["scale"]
    form.fields["factor"].value = 5
    form.submit.click()
    wait_until(lambda: "data-state='finished'" in view.banner.value, timeout=10)
    assert view.model.status == "succeeded"
    wait_until(lambda: len(view.outputs.outputs) >= 1, timeout=10)
    shown = str(view.outputs.outputs)
    assert "DataFrame 4 rows, 2 columns" in shown and "<td>15</td>" in shown
    assert 'data-node="scaled" data-status="succeeded"' in view.graph.value
    view.details_pick.value = "table"
    assert "DataFrame 4 rows" in view.details.value


def test_run_view_notices_an_answer_from_elsewhere(sqlite_client: rt.Client) -> None:
    g = rt.Graph("elsewhere")
    g.wait("ok", {"yes": bool})
    run = g.run().wait(10)
    view = RunView(run)
    wait_until(lambda: view.forms.children, timeout=10)
    rt.get_run(run.id).resume("ok", yes=True)  # e.g. another process, or the studio
    wait_until(lambda: view.model.finished and not view.forms.children, timeout=10)


def test_failed_node_details_show_traceback(sqlite_client: rt.Client) -> None:
    g = rt.Graph("broken_view")

    @g.node
    def boom() -> None:
        raise ValueError("kaput")

    run = g.run().wait(10)
    view = RunView(run)
    wait_until(lambda: view.model.finished, timeout=10)
    view.details_pick.value = "boom"
    assert "ValueError: kaput" in view.details.value
    assert "plait-traceback" in view.details.value


def test_graph_bundle_survives_untrusted_viewing() -> None:
    g = rt.Graph("drawn")
    g.add("a", lambda x: x)
    bundle = graph_bundle(g)
    assert (
        bundle["text/html"].count("<img") == 1
        and "data:image/svg+xml;base64," in bundle["text/html"]
    )
    assert 'data-node="a"' in bundle["image/svg+xml"]
    assert bundle["text/plain"].startswith("Graph 'drawn'")
    assert g._repr_mimebundle_() == bundle


def test_await_run_waits_through_a_wait_until_the_end(sqlite_client: rt.Client) -> None:
    import asyncio

    g = rt.Graph("awaited")
    g.wait("ok", {"yes": bool})

    @g.node
    def answer(ok: dict) -> str:
        return "yes" if ok["yes"] else "no"

    run = g.run().wait(10)
    threading.Timer(0.2, lambda: run.resume("ok", yes=True)).start()

    async def cell() -> rt.Run:
        return await run

    assert asyncio.run(cell()).status == "succeeded"
    assert run.outputs == {"answer": "yes"}


def test_await_is_refused_on_kernels_that_would_hang(monkeypatch) -> None:
    import sys
    import types

    import pytest

    from runtime.client import _check_kernel_can_await

    monkeypatch.setitem(sys.modules, "ipykernel", types.SimpleNamespace(__version__="7.3.0"))
    with pytest.raises(RuntimeError, match=r"needs ipykernel >= 7.4 \(this kernel is 7.3.0\)"):
        _check_kernel_can_await()
    monkeypatch.setitem(sys.modules, "ipykernel", types.SimpleNamespace(__version__="7.4.0"))
    _check_kernel_can_await()


def test_the_view_shows_no_secret(client: rt.Client) -> None:
    run = secret_flows.run_to_the_end()
    view = RunView(run, hz=50)
    wait_until(lambda: view.model.finished and not view.pacer.dirty.is_set(), timeout=20)
    wait_until(lambda: len(view.outputs.outputs) > 0, timeout=20)
    table = view.table.value
    assert "PermissionError: login refused for ada with" in table
    assert_no_secret(table, "the node table")
    shown = " ".join(str(o) for o in view.outputs.outputs)
    assert "approved with pin" in shown
    assert_no_secret(shown, "the outputs")
    for node in ("connect", "check", "approve", "confirm"):
        details = node_details_html(run, node)
        assert f"data-node='{node}'" in details
        assert_no_secret(details, f"the details of {node}")
    assert "connecting with" in node_details_html(run, "connect")
    assert REDACTED in preview_html({"token": "abc"})


class _Updates:
    """Stands in for IPython's DisplayHandle: records what a display was updated with."""

    def __init__(self) -> None:
        self.bundles: list[dict] = []

    def update(self, bundle: dict, raw: bool = False) -> None:
        self.bundles.append(bundle)


def test_the_static_snapshot_is_refreshed_but_never_under_a_watched_form(
    sqlite_client: rt.Client,
) -> None:
    from runtime.notebook.display import _Shown, static_bundle

    g = rt.Graph("snapshots")
    g.wait("approve", {"ok": bool})

    @g.node
    def verdict(approve: dict) -> str:
        return "yes" if approve["ok"] else "no"

    run = g.run().wait(30)
    assert run.status == "waiting"
    snapshot = static_bundle(run)
    assert "waiting</b> — 0/2 nodes done; waiting for input: approve" in snapshot["text/html"]
    assert snapshot["text/plain"].endswith("waiting — 0/2 nodes done; waiting for input: approve>")
    assert "<svg" not in snapshot["text/html"]  # an <img>: untrusted viewers keep it

    watched, unattended = (_Shown(run, {"w": 1}, watched=w) for w in (True, False))
    for shown in (watched, unattended):
        shown.handle, shown.last = _Updates(), ("", "")
        shown.refresh()
    assert watched.handle.bundles == []  # a person may be typing into the form
    assert [b["text/plain"] for b in unattended.handle.bundles] == [snapshot["text/plain"]]
    assert unattended.handle.bundles[0]["w"] == 1  # the live widget stays in the bundle

    run.resume("approve", ok=True).wait(30)
    for shown in (watched, unattended):
        shown.refresh()
        shown.refresh()  # unchanged: no second update
        assert shown.handle.bundles[-1]["text/plain"].endswith("succeeded — 2/2 nodes done>")
    assert len(watched.handle.bundles) == 1 and len(unattended.handle.bundles) == 2
