"""Report benchmark: generation time and file size for a 200-node run with 20 DataFrame
outputs (targets: <= 2 s, <= 5 MB), next to the time of one raw SQLite read of the same rows;
then the same run's share link opened in Debian Chromium through ``plait studio``: first
contentful paint (target <= 1 s) and the server's share of it.

    uv run python benchmarks/report.py [--skip-share-page]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from runtime import report, sharing


def frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"id": np.arange(5_000), "x": rng.normal(size=5_000), "cat": rng.integers(0, 20, 5_000)}
    )


def graph() -> rt.Graph:
    g = rt.Graph("report_200")
    for i in range(200):
        if i % 10 == 0:
            g.add(f"n{i}", lambda seed=i: frame(seed))
        else:
            g.add(f"n{i}", lambda v=i: {"value": v, "label": f"node {v}"})
    return g


@dataclass
class Visit:
    paint: float
    """First contentful paint, ms after navigation started."""
    response: float
    """Request sent to last byte received, ms: the server's share."""
    size: int


def share_page(url: str, repeats: int = 6) -> list[Visit]:
    """Visits of the link, each from a fresh browser context (a stranger, nothing cached in
    the browser); the server renders the first and keeps the page until the run moves."""
    from tests.browser import chromium

    visits = []
    with chromium() as browser:
        for _ in range(repeats):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url, wait_until="load")
            paint = page.wait_for_function(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime"
            ).json_value()
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
            visits.append(
                Visit(paint, nav["responseEnd"] - nav["requestStart"], nav["transferSize"])
            )
            context.close()
    return visits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-share-page", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    client = rt.connect(f"sqlite:///{home}/plait.db", home=home)
    run = graph().run().wait(300)
    assert run.status == "succeeded", run.error
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        page = report.render(run)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    rows = client.store.attempts(run.id)
    raw = time.perf_counter() - t0
    path = home / "report.html"
    path.write_text(page)
    print(
        f"200 nodes, 20 DataFrames of 5,000 rows: report in {statistics.median(times):.2f} s "
        f"(median of 5); {path.stat().st_size / 1e6:.2f} MB; "
        f"reading the {len(rows)} attempt rows alone takes {raw * 1000:.1f} ms"
    )
    if args.skip_share_page:
        return

    from tests.studio.conftest import start_studio, stop_studio

    _token, link = sharing.create_link(run.id, client=client)
    studio = start_studio({}, home, "bench-report")
    try:
        first, *again = share_page(studio.url + link)
    finally:
        stop_studio(studio)
    paint = statistics.median(v.paint for v in again)
    response = statistics.median(v.response for v in again)
    print(
        f"share link of that run via plait studio: first visit paints in {first.paint:.0f} ms "
        f"(server {first.response:.0f} ms, {first.response / first.paint:.0%} of it, "
        f"rendering the report); later visits {paint:.0f} ms (server {response:.0f} ms, "
        f"median of {len(again)}); {first.size / 1e6:.2f} MB transferred"
    )


if __name__ == "__main__":
    main()
