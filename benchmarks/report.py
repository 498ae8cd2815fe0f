"""Report benchmark: generation time and file size for a 200-node run with 20 DataFrame
outputs (targets: <= 2 s, <= 5 MB), next to the time of one raw SQLite read of the same rows.

    uv run python benchmarks/report.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import runtime as rt
from runtime import report


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


def main() -> None:
    home = Path(tempfile.mkdtemp())
    client = rt.connect(f"sqlite:///{home}/r.db", home=home)
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


if __name__ == "__main__":
    main()
