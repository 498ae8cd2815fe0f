"""What the compare page computes, without a browser: its rows and their detail, the run
picked as A, its links; and the page's load on a real store."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import runtime as rt
from runtime import codecs
from runtime.compare import NodeDiff, RunDiff, diff_values
from studio.logic import compare
from studio.states.compare import load
from tests.studio import flows


def a_diff() -> RunDiff:
    frame = diff_values(
        pd.DataFrame({"x": [1.0, 2.0], "y": [1, 1]}), pd.DataFrame({"x": [1.0, 2.5], "z": [0, 0]})
    )
    pictures = diff_values(codecs.Picture("image/png", b"1"), codecs.Picture("image/png", b"2"))
    return RunDiff(
        a="a" * 32,
        b="b" * 32,
        workflow=("wf", "wf"),
        version=("1234567890ab", "abcdef123456"),
        status=("succeeded", "failed"),
        duration=(1.5, 0.25),
        inputs={"n": diff_values(2, 3), "same": diff_values("x", "x")},
        nodes={
            "load": NodeDiff(
                "load",
                "unchanged",
                status=("succeeded", "succeeded"),
                attempts=(1, 1),
                duration=(0.5, 0.75),
            ),
            "table": NodeDiff(
                "table",
                "changed",
                ["output"],
                ("succeeded", "succeeded"),
                (1, 2),
                (0.1, 0.2),
                frame,
            ),
            "chart": NodeDiff(
                "chart",
                "changed",
                ["output"],
                ("succeeded", "succeeded"),
                (1, 1),
                (0.1, 0.1),
                pictures,
            ),
            "send": NodeDiff(
                "send",
                "changed",
                ["status", "error"],
                ("succeeded", "failed"),
                (1, 3),
                (0.1, None),
                error=(None, "SMTP down"),
            ),
            "new": NodeDiff("new", "only_in_b", status=(None, "skipped"), attempts=(None, 0)),
        },
    )


def test_rows_say_what_changed_and_hold_the_detail() -> None:
    rows = {r.name: r for r in compare.rows(a_diff())}
    assert list(rows) == ["load", "table", "chart", "send", "new"]
    load_row = rows["load"]
    assert (load_row.label, load_row.status, load_row.attempts) == ("unchanged", "succeeded", "1")
    assert load_row.timing == "500.0 ms → 750.0 ms (+250.0 ms)" and not load_row.has_detail
    table = rows["table"]
    assert table.attempts == "1 → 2" and table.has_detail
    assert table.summary == "DataFrame: 2x2, +1 columns, -1 columns, 1 cell changed in 1 row"
    assert table.facts == [
        "shape [2, 2] → [2, 2]",
        "column added: z",
        "column removed: y",
        "x: 1 cell changed, max abs delta 0.5",
    ]
    assert table.lines == "row 1: x: 2.0 → 2.5"
    chart = rows["chart"]
    assert (
        chart.picture_a.startswith("data:image/png;base64,") and chart.picture_b != chart.picture_a
    )
    send = rows["send"]
    assert send.status == "succeeded → failed" and send.summary == "status, error"
    assert send.lines == "SMTP down" and send.timing == "100.0 ms → —"
    new = rows["new"]
    assert (new.label, new.status, new.attempts) == ("only in B", "skipped", "0")


def test_inputs_and_heading() -> None:
    diff = a_diff()
    inputs = compare.input_rows(diff)
    assert [(r.name, r.summary) for r in inputs] == [("n", "2 → 3 (+1, +50.0%)")]
    assert compare.heading(diff) == [
        f"A {'a' * 32} · succeeded · v12345678 · 1.50 s",
        f"B {'b' * 32} · failed · vabcdef12 · 250.0 ms",
    ]


def test_the_run_compared_with_and_the_links() -> None:
    now = dt.datetime.now(dt.UTC)
    choices = [compare.choice(i, "succeeded", now) for i in ("r3", "r2", "r1")]
    assert compare.default_a("r2", choices) == "r1"  # the run before it
    assert compare.default_a("r1", choices) == "r3"  # the oldest: the newest other
    assert compare.default_a("r2", choices, replay_of="r9") == "r9"  # a replay: its source
    assert compare.default_a("r1", choices[2:]) == ""
    assert compare.compare_href("r1", "r2") == "/compare?a=r1&b=r2"
    assert compare.compare_href("", "r2") == "/compare?b=r2"
    assert compare.source_link("src", "r2") == "/compare?a=src&b=r2"
    assert compare.source_link(None, "r2") == ""
    assert choices[0].label.startswith("r3 · succeeded · ")


def test_the_page_loads_two_runs_of_a_workflow(client: rt.Client) -> None:
    first = flows.failing.run(n=2).wait(30)
    second = flows.failing.run(n=5).wait(30)
    page = load("", second.id)
    assert (page.a, page.b, page.workflow) == (first.id, second.id, "studio_failing")
    assert [c.id for c in page.choices] == [second.id, first.id]
    assert page.summary == "1 changed, 1 unchanged; inputs changed: n"
    assert [(r.name, r.change) for r in page.rows] == [
        ("load", "changed"),
        ("explode", "unchanged"),
    ]
    assert page.rows[0].lines == "+ $[2]: 2\n+ $[3]: 3\n+ $[4]: 4"
    alone = flows.approval.run().wait(30)
    assert "one run only" in load("", alone.id).error
    assert "nope" in load("", "nope").error
