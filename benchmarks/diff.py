"""Compare benchmark: the diff of two DataFrames of 1M rows with a few changed cells (target
under a second), next to the floor of comparing the same columns with bare numpy; then
``rt.diff`` of two PostgreSQL runs whose node returned those frames (values loaded from the
store), next to one raw psycopg read of the same two blobs.

    uv run python benchmarks/diff.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from benchmarks.local import database, libpq
from runtime.compare import diff_values

CHANGED = 5


def frames(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    a = pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows),
            "y": rng.normal(size=rows),
            "count": rng.integers(0, 1000, rows),
            "group": pd.Categorical(rng.choice(["a", "b", "c", "d"], rows)),
            "ok": rng.random(rows) > 0.5,
        }
    )
    b = a.copy()
    where = rng.choice(rows, CHANGED, replace=False)
    b.loc[where, "x"] += 1.0
    b.loc[where[:2], "count"] += 3
    return a, b


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def numpy_floor(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """The least a cell diff can do: one elementwise != per column."""
    return sum(int((a[c].to_numpy() != b[c].to_numpy()).sum()) for c in a.columns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    a, b = frames(args.rows)

    floor, _ = timed(lambda: numpy_floor(a, b))
    took, result = timed(lambda: diff_values(a, b))
    assert result.detail["changed_cells"] == CHANGED + 2, result.detail  # type: ignore[attr-defined]
    print(f"DataFrames of {args.rows:,} rows x {a.shape[1]} columns, {CHANGED + 2} cells changed")
    print(f"  diff_values            {took * 1000:8.1f} ms   (target < 1000 ms)")
    print(f"  numpy != per column    {floor * 1000:8.1f} ms   floor")
    print(f"  ratio                  {took / floor:8.1f} x")
    print(f"  summary: {result.summary}")  # type: ignore[attr-defined]

    with database() as url, tempfile.TemporaryDirectory() as home:
        client = rt.connect(url, home=home)
        g = rt.Graph("bench_diff")

        @g.node
        def table(which: int, rows: int) -> pd.DataFrame:
            return frames(rows)[which]

        run_a = g.run(which=0, rows=args.rows).wait(300)
        run_b = g.run(which=1, rows=args.rows).wait(300)
        took_runs, diff = timed(lambda: rt.diff(run_a, run_b), repeat=3)
        assert list(diff.changed) == ["table"], diff.summary()  # type: ignore[attr-defined]
        blobs = [client.store.node_attempts(r.id, "table")[-1].output_blob for r in (run_a, run_b)]

        def raw_read() -> int:
            with psycopg.connect(libpq(url)) as conn:
                rows = conn.execute(
                    "SELECT length(data) FROM blob WHERE hash = ANY(%s)", (blobs,)
                ).fetchall()
                conn.execute("SELECT data FROM blob WHERE hash = ANY(%s)", (blobs,)).fetchall()
            return sum(r[0] for r in rows)

        raw, size = timed(raw_read, repeat=3)
        print(
            f"rt.diff of two PostgreSQL runs (the frames stored as {size / 1e6:.1f} MB of Parquet)"
        )
        print(f"  rt.diff                {took_runs * 1000:8.1f} ms")
        print(f"  raw read of the blobs  {raw * 1000:8.1f} ms   floor")
        print(f"  ratio                  {took_runs / raw:8.1f} x")
        client.close()


if __name__ == "__main__":
    main()
