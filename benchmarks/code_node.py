"""Code node benchmark: the start overhead per call of ``rt.nodes.code`` (namespaces,
rlimits, scratch directory, JSON in and out) against a bare subprocess of the same
interpreter running the same trivial ``main``, and a whole run of a one-code-node graph.

    uv run python benchmarks/code_node.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import runtime as rt
from runtime.nodes import sandbox
from runtime.nodes.code import execute

SOURCE = "def main(x):\n    return x + 1\n"


def p50_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    python = sandbox.interpreter()  # probed once, outside the timings
    script = SOURCE + "import json, sys\nprint(json.dumps(main(**json.load(sys.stdin))))\n"

    def bare() -> None:
        subprocess.run([python, "-I", "-c", script], input=b'{"x": 1}', capture_output=True)

    def node_code() -> None:
        assert execute("bench", {"source": SOURCE, "timeout": 10}, {"x": 1}) == 2

    bare_ms = p50_ms(bare, 30)
    node_ms = p50_ms(node_code, 30)
    print(f"sandbox interpreter: {python}")
    print(f"bare subprocess ({Path(python).name} -I, JSON in/out): p50 {bare_ms:.1f} ms")
    print(f"code node call (sandboxed): p50 {node_ms:.1f} ms (overhead {node_ms - bare_ms:.1f} ms)")

    home = Path(tempfile.mkdtemp())
    rt.connect(f"sqlite:///{home}/plait.db", home=home)
    g = rt.Graph("code_bench")
    g.add("plus", rt.nodes.code(source=SOURCE))
    assert g.run(x=1).wait(30).output("plus") == 2
    whole = p50_ms(lambda: g.run(x=1).wait(30), 15)
    print(f"a run of a one-code-node graph (SQLite): p50 {whole:.1f} ms")


if __name__ == "__main__":
    main()
