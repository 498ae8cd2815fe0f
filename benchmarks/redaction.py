"""Redaction benchmark: how fast the one policy goes through log-like text, a traceback-like
run of one character, and a nested value; and the report of a run with 5.5 MB of logs, a
3 MB exception and 300 more nodes (time, size against the 5 MB budget).

    uv run python benchmarks/redaction.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from runtime import report
from runtime.redaction import Redactor


def rate(shown: Redactor, text: str, repeats: int = 3) -> float:
    """MB of text redacted per second (median of ``repeats``)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        shown.text(text)
        times.append(time.perf_counter() - t0)
    return len(text) / 1e6 / statistics.median(times)


def main() -> None:
    shown = Redactor([f"secret-value-{i:03d}" for i in range(20)])
    logs = "".join(
        f"12:00:{i % 60:02d} INFO app: step {i} user=ada retries=3 ok\n" for i in range(50_000)
    )
    print(f"log lines: {rate(shown, logs):.1f} MB/s ({len(logs) / 1e6:.1f} MB, 20 known values)")
    print(f"one 3 MB word: {rate(shown, 'y' * 3_000_000):.1f} MB/s")
    value = {
        "rows": [
            {"id": i, "name": f"n{i}", "token": "t", "meta": {"a": [1, 2]}} for i in range(5_000)
        ]
    }
    t0 = time.perf_counter()
    shown.value(value)
    print(f"a 5,000-row nested value: {(time.perf_counter() - t0) * 1000:.0f} ms")

    home = Path(tempfile.mkdtemp())
    rt.connect(f"sqlite:///{home}/plait.db", home=home)
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
    run = g.run().wait(300)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        page = report.render(run)
        times.append(time.perf_counter() - t0)
    print(
        f"report of 302 nodes, 5.5 MB of logs, a 3 MB exception: {statistics.median(times):.2f} s, "
        f"{len(page.encode()) / 1e6:.2f} MB (budget {report.DEFAULT_BUDGET / 1e6:.0f} MB)"
    )


if __name__ == "__main__":
    main()
