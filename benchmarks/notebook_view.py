"""Notebook view with a 1,000-node run: build + first render time, SVG size, and how many
widget pushes the view makes while 1,000 nodes finish (the throttle keeps it near 10/s).

    uv run python benchmarks/notebook_view.py
"""

from __future__ import annotations

import tempfile
import time

import runtime as rt
from runtime.notebook.view import RunView, wait_until


def wide(n: int, width: int = 25) -> rt.Graph:
    g = rt.Graph(f"wide_{n}")
    for i in range(n):
        deps = {"v": f"n{i - width}"} if i >= width else {}
        g.add(f"n{i}", (lambda v: v + 1) if deps else (lambda: 0), inputs=deps)
    return g


def main() -> None:
    rt.connect(f"sqlite:///{tempfile.mkdtemp()}/view.db")
    g = wide(1000)
    run = g.run()
    t0 = time.perf_counter()
    view = RunView(run)
    built = time.perf_counter() - t0
    start = time.perf_counter()
    wait_until(lambda: view.model.finished, timeout=300)
    wait_until(lambda: not view._refresher.is_alive(), timeout=30)
    elapsed = time.perf_counter() - start
    t0 = time.perf_counter()
    view._render()
    render = time.perf_counter() - t0
    print(
        f"1,000-node run view: built + first render {built * 1000:.0f} ms; one full render "
        f"{render * 1000:.0f} ms; SVG {len(view.graph.value) / 1024:.0f} KB"
    )
    print(
        f"run took {elapsed:.1f} s; view pushed {view.pushes} times "
        f"({view.pushes / elapsed:.1f}/s) for {run.client.store.last_seq(run.id)} events"
    )


if __name__ == "__main__":
    main()
