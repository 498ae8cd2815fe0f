"""Comparing runs: value diffs by type, run diffs node by node on SQLite and PostgreSQL, the
notebook display and ``plait diff``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import runtime as rt
from runtime import codecs
from runtime.compare import diff_values
from runtime.compare.values import picture_of

# -- values ----------------------------------------------------------------------------------


def test_numbers_show_the_delta() -> None:
    d = diff_values(2.0, 2.5)
    assert not d.equal and d.kind == "number"
    assert d.detail["delta"] == 0.5 and d.detail["relative"] == 0.25
    assert d.summary == "2.0 → 2.5 (+0.5, +25.0%)"
    assert diff_values(np.int64(3), 3).equal
    assert diff_values(float("nan"), float("nan")).equal
    assert diff_values(True, 1).kind == "type"  # a bool is no number here


def test_text_is_a_unified_diff() -> None:
    a = "\n".join(f"line {i}" for i in range(10))
    b = a.replace("line 4", "line four")
    d = diff_values(a, b)
    assert d.kind == "text" and d.summary == "text: +1 -1 lines"
    assert "-line 4" in d.lines and "+line four" in d.lines and d.lines[0] == "--- a"
    assert diff_values("yes", "no").summary == "'yes' → 'no'"
    assert diff_values(a, a).equal
    huge = diff_values("\n".join(map(str, range(5000))), "\n".join(map(str, range(0, 10000, 2))))
    assert len(huge.lines) <= 201 and huge.lines[-1].startswith("…")
    # texts too large for difflib: the part between their common start and end
    big = "\n".join(f"row {i}" for i in range(300_000))
    edited = big.replace("row 150000\n", "row 150000 (edited)\n")
    large = diff_values(big, edited)
    assert large.lines == [
        "--- a",
        "+++ b",
        "@@ -150001,1 +150001,1 @@",
        "-row 150000",
        "+row 150000 (edited)",
    ]


def test_json_is_a_structural_diff() -> None:
    a = {"model": "small", "params": {"t": 0.2, "stop": ["\n"]}, "tags": [1, 2, 3]}
    b = {"model": "small", "params": {"t": 0.7}, "tags": [1, 2], "seed": 4}
    d = diff_values(a, b)
    assert d.kind == "json" and not d.equal
    assert d.lines == [
        "~ $.params.t: 0.2 → 0.7",
        '- $.params.stop: ["\\n"]',
        "- $.tags[2]: 3",
        "+ $.seed: 4",
    ]
    assert d.summary == "data: 1 changed, 1 added, 2 removed"
    assert any(line.startswith('-    "t": 0.2') for line in d.detail["unified"])
    assert diff_values([1, {"a": 1}], [1, {"a": 1}]).equal


def test_dataframes_by_shape_columns_dtypes_and_cells() -> None:
    n = 1000
    a = pd.DataFrame({"id": np.arange(n), "x": np.arange(n) * 0.5, "name": ["a"] * n})
    a.loc[7, "x"] = np.nan
    b = a.copy()
    b.loc[[3, 500], "x"] = [100.0, -3.0]  # 1.5 → 100 and 250 → -3
    b["name"] = b["name"].astype("category")
    b = b.drop(columns=["id"]).assign(flag=True)
    d = diff_values(a, b)
    assert d.kind == "frame" and not d.equal
    assert d.detail["shape"] == [[n, 3], [n, 3]]
    assert d.detail["columns_added"] == ["flag"] and d.detail["columns_removed"] == ["id"]
    assert d.detail["dtypes"] == {"name": [str(a["name"].dtype), "category"]}
    # the NaN both have is no change
    assert d.detail["changed_cells"] == 2 and d.detail["changed_by_column"] == {"x": 2}
    assert d.detail["max_abs_delta"] == {"x": 253.0}
    assert d.detail["rows"] == [
        {"index": 3, "changes": {"x": [1.5, 100.0]}},
        {"index": 500, "changes": {"x": [250.0, -3.0]}},
    ]
    assert "2 cells changed in 2 rows" in d.summary
    assert "~ x: 2 cells, max abs delta 253" in d.lines
    json.dumps(d.to_dict(), allow_nan=False)
    assert diff_values(a, a.copy()).equal


def test_dataframe_rows_are_matched_by_index_label() -> None:
    a = pd.DataFrame({"v": [1, 2, 3]}, index=["p", "q", "r"])
    b = pd.DataFrame({"v": [2, 30, 4]}, index=["q", "r", "s"])
    d = diff_values(a, b)
    assert d.detail["rows_added"] == 1 and d.detail["rows_removed"] == 1
    assert d.detail["rows"] == [{"index": "r", "changes": {"v": [3, 30]}}]
    series = diff_values(pd.Series([1.0, 2.0], name="s"), pd.Series([1.0, 2.5], name="s"))
    assert series.kind == "frame" and series.detail["max_abs_delta"] == {"s": 0.5}


def test_arrays_and_pictures_and_types() -> None:
    a = np.zeros((3, 4))
    b = a.copy()
    b[1, 2] = 5
    d = diff_values(a, b)
    assert d.kind == "array" and d.detail["changed"] == 1
    assert d.detail["elements"] == [{"index": [1, 2], "a": 0.0, "b": 5.0}]
    assert d.detail["max_abs_delta"] == 5.0
    assert diff_values(a, np.zeros(3)).summary == "array shape (3, 4) → (3,)"
    one, two = codecs.Picture("image/png", b"\x89PNG1"), codecs.Picture("image/png", b"\x89PNG2")
    pic = diff_values(one, two)
    assert pic.kind == "picture" and not pic.equal
    assert picture_of(pic.detail["a"]) == one and picture_of(pic.detail["b"]) == two
    kind = diff_values(pd.DataFrame({"a": [1]}), {"a": [1]})
    assert kind.kind == "type" and kind.summary == "pandas.DataFrame → dict"
    assert diff_values(b"ab", b"abc").summary == "2 → 3 bytes"


# -- runs ------------------------------------------------------------------------------------


def pipeline(scale: float, *, extra: bool = False, gone: bool = True, retries: int = 0) -> rt.Graph:
    g = rt.Graph("diff_pipeline")

    @g.node
    def frame(rows: int = 50) -> pd.DataFrame:
        return pd.DataFrame({"k": np.arange(rows), "v": np.arange(rows) * 1.0})

    @g.node(retries=retries, backoff=0)
    def scaled(frame: pd.DataFrame, flaky: str = "") -> pd.DataFrame:
        if flaky and not Path(flaky).exists():
            Path(flaky).touch()
            raise RuntimeError("first attempt fails")
        out = frame.copy()
        out.loc[frame.k % 10 == 0, "v"] *= scale
        return out

    @g.node
    def total(scaled: pd.DataFrame) -> float:
        return float(scaled.v.sum())

    @g.node
    def note(total: float) -> str:
        return "constant"

    if gone:

        @g.node
        def old(note: str) -> str:
            return note

    if extra:

        @g.node
        def new(note: str) -> dict:
            return {"note": note}

    return g


def test_two_runs_node_by_node(client: rt.Client, tmp_path: Path) -> None:
    a = pipeline(1.0).run(rows=50).wait(30)
    flaky = tmp_path / "flaky"
    b = pipeline(2.0, extra=True, gone=False, retries=1).run(rows=50, flaky=str(flaky)).wait(30)
    assert b.status == "succeeded"
    d = rt.diff(a, b)
    assert d.a == a.id and d.b == b.id and d.workflow == ("diff_pipeline", "diff_pipeline")
    assert d.version[0] != d.version[1]
    assert list(d.changed) == ["scaled", "total"]
    assert list(d.unchanged) == ["frame", "note"]
    assert list(d.only_in_a) == ["old"] and list(d.only_in_b) == ["new"]
    scaled = d.changed["scaled"]
    # code changed (another scale), the retries policy too: its definition and its output
    assert scaled.reasons == ["definition", "output"] and scaled.definition == ["policies"]
    assert scaled.attempts == (1, 2)
    assert scaled.value is not None and scaled.value.detail["changed_cells"] == 4  # v == 0 stays 0
    assert scaled.value.detail["max_abs_delta"] == {"v": 40.0}  # 40.0 → 80.0
    total = d.changed["total"].value
    assert total is not None and total.detail["delta"] == 100.0  # 0+10+20+30+40 more
    assert d.unchanged["note"].value is not None and d.unchanged["note"].value.equal
    assert all(
        n.duration[0] is not None and n.duration[1] is not None for n in d.unchanged.values()
    )
    assert set(d.inputs) == {"rows", "flaky"}
    assert list(d.inputs_changed) == ["flaky"]  # "" (its default) in A
    assert "2 changed, 2 unchanged, 1 only in A, 1 only in B" in d.summary()
    # the other way round is the same comparison seen from B
    back = a.diff(b)
    assert list(back.only_in_a) == ["new"] and back.changed["scaled"].attempts == (2, 1)


def test_same_stored_values_are_not_loaded(client: rt.Client) -> None:
    a = pipeline(1.0).run(rows=5000).wait(30)
    b = a.rerun().wait(30)
    d = b.diff(a.id)
    assert d.same and not d.changed and not d.inputs_changed
    # the frames are in the blob table once: equal hashes, so nothing was read back
    assert d.unchanged["frame"].value is not None and d.unchanged["frame"].value.kind == "same"


def test_a_failed_node_against_a_succeeded_one(client: rt.Client, tmp_path: Path) -> None:
    ok = pipeline(1.0).run(rows=10).wait(30)
    failed = pipeline(1.0).run(rows=10, flaky=str(tmp_path / "never")).wait(30)
    assert failed.status == "failed"
    d = rt.diff(ok.id, failed.id)
    scaled = d.changed["scaled"]
    assert scaled.status == ("succeeded", "failed") and scaled.value is None
    assert "status" in scaled.reasons and "first attempt fails" in (scaled.error[1] or "")
    assert d.changed["total"].status == ("succeeded", "skipped")
    assert "error in B: first attempt fails" in d.text()


def test_display_survives_untrusted_viewing(client: rt.Client) -> None:
    a = pipeline(1.0).run(rows=20).wait(30)
    b = pipeline(3.0, extra=True).run(rows=20).wait(30)
    d = rt.diff(a, b)
    bundle = d._repr_mimebundle_()
    page = bundle["text/html"]
    assert "<script" not in page and "<style" not in page  # stripped by a sanitiser
    assert "<details><summary>DataFrame: 20x2, 1 cell changed in 1 row</summary>" in page
    assert "only in B" in page and a.id in page
    assert bundle["text/plain"].splitlines()[2] == d.summary()
    assert rt.RunDiff.from_dict(json.loads(json.dumps(d.to_dict()))).to_dict() == d.to_dict()


# -- the command line ------------------------------------------------------------------------

FLOWS = textwrap.dedent(
    """
    import runtime as rt

    pipeline = rt.Graph("cli_diff")

    @pipeline.node
    def numbers(n: int) -> list:
        return list(range(n))

    @pipeline.node
    def total(numbers: list, scale: float = 1.0) -> float:
        return sum(numbers) * scale
    """
)


@pytest.fixture
def plait(db_url: str, tmp_path: Path):
    (tmp_path / "flows.py").write_text(FLOWS)
    env = {**os.environ, "PLAIT_DATABASE_URL": db_url, "PLAIT_HOME": str(tmp_path / "home")}

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return call


def test_plait_diff(plait) -> None:
    ids = []
    for scale in ("1", "1.5"):
        started = plait("run", "flows.py:pipeline", "-i", "n=4", "-i", f"scale={scale}")
        assert started.returncode == 0, started.stderr
        ids.append(started.stdout.split()[1])
    shown = plait("diff", *ids)
    assert shown.returncode == 1, shown.stderr  # they differ
    lines = shown.stdout.splitlines()
    assert lines[2] == "1 changed, 1 unchanged; inputs changed: scale"
    assert "  scale: 1.0 → 1.5 (+0.5, +50.0%)" in lines
    assert any(x.startswith("= numbers ") for x in lines)
    assert any(x.startswith("~ total ") for x in lines) and "    6.0 → 9.0 (+3, +50.0%)" in lines
    as_json = plait("diff", ids[0], ids[1], "--json")
    doc = json.loads(as_json.stdout)
    assert [(n["name"], n["change"]) for n in doc["nodes"]] == [
        ("numbers", "unchanged"),
        ("total", "changed"),
    ]
    assert plait("diff", ids[0], ids[0]).returncode == 0
    missing = plait("diff", ids[0], "nope")
    assert missing.returncode == 2 and "nope" in missing.stderr
