"""Run reports: content for a run with a DataFrame, a failed node, an answered wait; no
network request when opened in a browser; size budget; redaction."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

import runtime as rt
from runtime import redaction, report
from tests import secret_flows
from tests.browser import chromium
from tests.secret_flows import assert_no_secret


def mixed_run() -> rt.Run:
    g = rt.Graph("report_demo", description="A run with a bit of everything.")

    @g.node
    def sales(rows: int, api_key: str = "sk-live-123") -> pd.DataFrame:
        rt.current().log("loaded sales")
        return pd.DataFrame({"region": ["n", "s"] * (rows // 2), "units": range(rows)})

    @g.node
    def summary(sales: pd.DataFrame) -> str:
        ctx = rt.current()
        ctx.save_document("notes", "## Findings\n\nRegion *n* sells more.")
        ctx.save_document("top rows", sales.head(3))
        ctx.save_document("settings", {"threshold": 3, "secret": "do-not-show"}, kind="json")
        return f"# Summary\n\n- total units: {sales.units.sum()}\n- regions: 2"

    g.wait("approve", {"ok": bool, "password": (str, "")}, after=["summary"])

    @g.node
    def publish(summary: str, approve: dict) -> dict:
        return {"published": approve["ok"], "token": "abc"}

    @g.node
    def broken(sales: pd.DataFrame) -> None:
        raise RuntimeError("the printer is on fire")

    run = g.run(rows=40).wait(20)
    run.resume("approve", ok=True, password="hunter2", answered_by="ada").wait(20)
    return run


def test_report_content(client: rt.Client, tmp_path: Path) -> None:
    run = mixed_run()
    assert run.status == "failed"
    page = run.report(str(tmp_path / "r.html"))
    assert (tmp_path / "r.html").read_text() == page
    assert "<title>report_demo" in page and run.id in page
    assert 'data-run-status="failed"' in page
    assert "trigger <b>sdk</b>" in page
    # graph and timeline
    assert 'data-node="broken" data-status="failed"' in page
    assert 'class="timeline"' in page and 'data-attempt="1"' in page
    # DataFrame preview: shape, rows, dtypes, summary
    assert "DataFrame: 40 rows, 2 columns" in page
    assert "first 20 rows" in page and "<summary>dtypes</summary>" in page
    # markdown rendered, wait answered, failure with traceback, logs
    assert "<h1>Summary</h1>" in page and "<li>total units: 780</li>" in page
    assert "answered by <b>ada</b>" in page
    assert "RuntimeError: the printer is on fire" in page
    assert 'raise RuntimeError("the printer is on fire")' in html.unescape(page)
    assert "loaded sales" in page
    # saved documents, rendered by kind
    assert 'data-document="notes"' in page and "<h2>Findings</h2>" in page
    assert "<em>n</em>" in page
    assert 'data-document="top rows"' in page and "DataFrame: 3 rows, 2 columns" in page
    assert '"threshold": 3' in html.unescape(page) and "do-not-show" not in page
    assert [d.name for d in run.documents] == ["notes", "top rows", "settings"]
    assert [d.kind for d in run.documents] == ["markdown", "table", "json"]
    saved = [e for e in run.events() if e["type"] == "document.saved"]
    assert [(e["node"], e["data"]["name"]) for e in saved] == [
        ("summary", "notes"),
        ("summary", "top rows"),
        ("summary", "settings"),
    ]
    # secrets never appear
    assert "hunter2" not in page and "sk-live-123" not in page
    assert page.count(redaction.REDACTED) >= 3


def test_report_of_a_running_run_says_so(client: rt.Client) -> None:
    g = rt.Graph("still_going")
    g.wait("later", {"ok": bool})
    run = g.run().wait(10)
    page = run.report()
    assert 'data-live="true"' in page and "still <b>waiting</b>" in page


def test_size_budget_cuts_previews(client: rt.Client) -> None:
    g = rt.Graph("big_report")
    for i in range(5):
        g.add(f"t{i}", lambda: "x" * 15_000)
    run = g.run().wait(20)
    page = report.render(run, budget=40_000)
    assert "Size budget reached" in page
    assert len(page) < 80_000


def test_report_opens_without_network(client: rt.Client, tmp_path: Path, artifacts: Path) -> None:
    run = mixed_run()
    path = tmp_path / "report.html"
    run.report(str(path))
    # the file itself forbids loading anything from elsewhere
    assert f'content="{report.CONTENT_SECURITY_POLICY}"' in html.unescape(path.read_text())
    requests: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        assert page.locator("section.node").count() == 5 + 3  # nodes + documents
        assert page.locator('svg.plait-graph g.node[data-status="failed"]').count() == 1
        page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    assert [u for u in requests if not u.startswith("file://")] == []


def test_plait_report_cli(sqlite_client: rt.Client, tmp_path: Path) -> None:
    g = rt.Graph("cli_report")
    g.add("one", lambda: 1)
    run = g.run().wait(10)
    out = tmp_path / "out.html"
    url = sqlite_client.store.url
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "report", run.id, "-o", str(out)],
        env={"PLAIT_DATABASE_URL": url, "PLAIT_HOME": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert re.match(r"wrote .*out.html \(\d+ KB, run succeeded\)", result.stdout)
    assert "cli_report" in out.read_text()


def chart_run() -> rt.Run:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    g = rt.Graph("report_charts")

    @g.node
    def trend() -> object:
        figure, ax = plt.subplots(figsize=(5, 3))
        ax.plot([1, 2, 3, 4], [3, 1, 4, 1])
        ax.set_title("Weekly trend")
        return figure

    @g.node
    def votes() -> go.Figure:
        return go.Figure(go.Bar(x=["yes", "no"], y=[7, 2]), layout={"title": {"text": "Votes"}})

    @g.node
    def logo() -> bytes:
        buffer = io.BytesIO()
        plt.imsave(buffer, [[0.0, 1.0], [1.0, 0.0]], format="png")
        return buffer.getvalue()

    return g.run().wait(60)


def test_charts_are_drawn_inside_the_file(
    client: rt.Client, tmp_path: Path, artifacts: Path
) -> None:
    run = chart_run()
    assert run.status == "succeeded", run.error
    path = tmp_path / "charts.html"
    page = run.report(str(path))
    assert path.stat().st_size < report.DEFAULT_BUDGET
    requests: list[str] = []
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1200, "height": 1400})
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(path.as_uri())
        trend = tab.locator('section.node[data-node="trend"] img.figure')
        assert trend.evaluate("img => img.complete && img.naturalWidth > 0")
        assert "data:image/svg+xml" in (trend.get_attribute("src") or "")
        # plotly.js unpacks from the file itself and draws the bars as SVG
        tab.locator('section.node[data-node="votes"] .plotly-figure .main-svg').first.wait_for(
            timeout=30_000
        )
        assert tab.locator('section.node[data-node="votes"] .plotly-figure g.point').count() == 2
        assert "Votes" in tab.locator('section.node[data-node="votes"] .plotly-figure').inner_text()
        logo = tab.locator('section.node[data-node="logo"] img')
        assert logo.evaluate("img => img.complete && img.naturalWidth === 2")
        tab.screenshot(path=str(artifacts / "report_charts.png"), full_page=True)
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert page.count('id="plotly-js"') == 1


def huge_run() -> rt.Run:
    """Logs of 5.5 MB, a 3 MB exception (in its message and its traceback) and 300 more
    nodes: a 12.4 MB report before reports were budgeted for real."""
    g = rt.Graph("huge_report")

    @g.node
    def chatty() -> int:
        ctx = rt.current()
        for i in range(60_000):
            ctx.log(f"line {i:06d} " + "x" * 80)
        return 1

    @g.node
    def boom() -> None:
        raise ValueError("bad value: " + "y" * 3_000_000)

    for i in range(300):
        g.add(f"step_{i:03d}", lambda: "done " * 40)
    return g.run().wait(300)


def test_a_huge_run_stays_in_the_budget_and_says_what_it_left_out(
    sqlite_client: rt.Client,
) -> None:
    run = huge_run()
    assert run.status == "failed"
    page = report.render(run)
    assert len(page.encode()) <= report.DEFAULT_BUDGET
    assert "log lines left out" in page and "line 000000" in page and "line 059999" in page
    assert "characters left out" in page and "ValueError: bad value: yyy" in page
    assert page.count('<section class="node"') == 302  # every node still has its section
    # a tighter budget: sections go, the failed node's first, and the page says which
    small = report.render(run, budget=150_000)
    assert len(small.encode()) <= 150_000
    assert '<section class="node" id="node-boom" data-node="boom" data-status="failed">' in small
    left_out = int(re.search(r'data-left-out="(\d+)"', small).group(1))  # type: ignore[union-attr]
    assert 0 < left_out < 302
    assert small.count('<section class="node"') == 302 - left_out
    assert "node(s) left out to stay in the report's size budget: step_" in small


def test_report_shows_no_secret(client: rt.Client) -> None:
    run = secret_flows.run_to_the_end()
    page = run.report()
    assert "login refused for ada with" in page and "connecting with" in page
    assert "answered by <b>ada</b>" in page
    assert_no_secret(page, "the report")
    assert page.count(redaction.REDACTED) >= 5


def test_a_map_node_shows_its_progress_histogram_and_failed_elements(client: rt.Client) -> None:
    from tests import map_flows

    run = map_flows.collecting.run().wait(60)
    assert run.status == "succeeded", run.error
    page = str(report.render(run))
    section = page.split('id="node-checked"')[1].split("</section>")[0]
    assert 'elements <b class="map-progress">6/8</b>' in section and "2 failed" in section
    assert "class='plait-histogram'" in section
    failed = section.split('class="failed-elements"')[1]
    assert re.findall(r'data-element="(\d+)"', failed) == ["2", "5"]
    assert "ValueError: no 5" in failed
