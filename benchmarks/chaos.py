"""Chaos figures: runs the fault suite (``tests/chaos``: kills, duplicate deliveries, a frozen
worker, PostgreSQL and Redis outages, a blocked event loop, crashing nodes, the REST fuzzer)
and prints what each scenario injected and what came of it, from the ``CHAOS`` lines its
tests print. Every scenario also asserts its guarantees, so a row here means they held.

    uv run python benchmarks/chaos.py [-k EXPRESSION]   # -k: pytest's test selection
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
COLUMNS = ("faults", "runs", "executions", "re_executions", "requests", "server_errors")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default=None, help="only the scenarios pytest's -k selects")
    args = parser.parse_args()
    command = [sys.executable, "-m", "pytest", "tests/chaos", "-q", "-s", "-p", "no:cacheprovider"]
    if args.k:
        command += ["-k", args.k]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    rows = [
        json.loads(line.removeprefix("CHAOS "))
        for line in done.stdout.splitlines()
        if line.startswith("CHAOS ")
    ]
    width = max([len(r["scenario"]) for r in rows] + [8])
    print(f"{'scenario':{width}}  " + "  ".join(f"{c:>13}" for c in COLUMNS))
    for row in rows:
        cells = "  ".join(f"{row.get(c, ''):>13}" for c in COLUMNS)
        print(f"{row['scenario']:{width}}  {cells}")
    totals = {c: sum(int(r.get(c) or 0) for r in rows) for c in COLUMNS}
    print(f"{'total':{width}}  " + "  ".join(f"{totals[c]:>13}" for c in COLUMNS))
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    print(f"\npytest: {summary} ({took:.0f} s); every row's guarantees were asserted")
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
