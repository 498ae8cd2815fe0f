"""Compare two runs: ``rt.diff(run_a, run_b)`` or ``run_b.diff(run_a)``.

``runs`` compares node by node, ``values`` compares two values by their type, ``render``
shows the result as text and HTML."""

from __future__ import annotations

from runtime.compare.runs import NodeDiff, RunDiff, diff_runs
from runtime.compare.values import ValueDiff, diff_values

__all__ = ["NodeDiff", "RunDiff", "ValueDiff", "diff_runs", "diff_values"]
