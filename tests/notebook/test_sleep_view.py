"""A sleeping run in a real kernel: its display says when it wakes."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.test_notebooks import _notebook, _run
from tests.notebook.test_notebooks import embedded as embedded  # the fixture


def test_a_displayed_sleeping_run_shows_its_wake_time(embedded: Path) -> None:
    book = _notebook(
        embedded,
        [
            """
            import time
            import runtime as rt
            from runtime.statuses import parked_label

            rt.connect()
            g = rt.Graph("nap_in_a_notebook")

            @g.node
            def first() -> int:
                return 1

            g.sleep("nap", seconds=600, after=["first"])

            @g.node
            def later(nap: object) -> int:
                return 2

            run = g.run()
            deadline = time.monotonic() + 30
            while run.status != "sleeping" and time.monotonic() < deadline:
                time.sleep(0.05)
            until = parked_label("sleeping", run.record.wake_at)
            """,
            "run",
            "print(until)",
        ],
    )
    _run(book, embedded)
    until = book.cells[2].outputs[0]["text"].strip()
    assert until.startswith("sleeping until ")
    shown = book.cells[1].outputs[0]["data"]
    assert f"<b>{until}</b> — 1/3 nodes done" in shown["text/html"], shown["text/html"][:400]
    assert "data-status='sleeping'" in shown["text/html"]
    assert f"'nap_in_a_notebook': {until} — 1/3 nodes done>" in shown["text/plain"]
