"""The compare page's content: two runs' diff (``runtime.compare.RunDiff``) as table rows
with their expandable detail, the runs to pick from, and the links that open the page."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.compare import NodeDiff, RunDiff, ValueDiff
from runtime.compare.render import seconds, timing
from studio.logic import fmt

CHANGE_LABELS = {
    "changed": "changed",
    "unchanged": "unchanged",
    "only_in_a": "only in A",
    "only_in_b": "only in B",
}


@dataclass
class CompareRow:
    """A node (or a run input) of the two runs, as a row of the compare table."""

    name: str
    change: str
    """``changed``, ``unchanged``, ``only_in_a`` or ``only_in_b``."""
    label: str
    status: str
    attempts: str
    timing: str
    summary: str
    """What differs, in one line (the value diff's summary, or the reasons)."""
    lines: str = ""
    """The diff (text, JSON) or the changed cells, one per line."""
    facts: list[str] = field(default_factory=list)
    """A DataFrame's shape, columns, dtypes and per-column deltas."""
    picture_a: str = ""
    picture_b: str = ""
    """``data:`` URIs of two pictures shown side by side."""
    has_detail: bool = False


@dataclass
class RunChoice:
    """A run to pick as A or B."""

    id: str
    label: str


def compare_href(a: str, b: str = "") -> str:
    """The compare page of run ``b`` against run ``a`` (either may still be picked there)."""
    query = {k: v for k, v in (("a", a), ("b", b)) if v}
    return "/compare?" + urllib.parse.urlencode(query)


def source_link(replay_of: str | None, run_id: str) -> str:
    """``Compare with source`` on a replay: its source as A, the replay as B; ``""`` for a
    run that is no replay."""
    return compare_href(replay_of, run_id) if replay_of else ""


def choice(run_id: str, status: str, created: Any, version: str = "") -> RunChoice:
    label = f"{run_id[:12]} · {status} · {fmt.ago(created)}"
    return RunChoice(run_id, label + (f" · v{fmt.short(version)}" if version else ""))


def default_a(b: str, choices: Sequence[RunChoice], replay_of: str | None = None) -> str:
    """What B is compared with when A is not given: the run B replays, else the run before
    B (the list is newest first), else the newest other run."""
    if replay_of:
        return replay_of
    ids = [c.id for c in choices]
    if b in ids:
        later = ids[ids.index(b) + 1 :]
        if later:
            return later[0]
    others = [i for i in ids if i != b]
    return others[0] if others else ""


def rows(diff: RunDiff) -> list[CompareRow]:
    """Every node of the two runs, B's order first."""
    return [node_row(n) for n in diff.nodes.values()]


def node_row(node: NodeDiff) -> CompareRow:
    row = CompareRow(
        name=node.name,
        change=node.change,
        label=CHANGE_LABELS[node.change],
        status=_pair(node.status),
        attempts=_pair(node.attempts),
        timing=timing(node),
        summary=_node_summary(node),
    )
    if node.change == "changed" and node.value is not None and not node.value.equal:
        _detail(row, node.value)
    elif node.change == "changed" and "error" in node.reasons and node.error[1]:
        row.lines, row.has_detail = str(node.error[1]), True
    return row


def input_rows(diff: RunDiff) -> list[CompareRow]:
    """The run inputs that differ."""
    out = []
    for name, value in diff.inputs_changed.items():
        row = CompareRow(name, "changed", "changed", "", "", "", value.summary)
        _detail(row, value)
        out.append(row)
    return out


def heading(diff: RunDiff) -> list[str]:
    """The two runs, one line each."""
    return [
        f"{side} {run} · {status} · v{fmt.short(version or '?')} · {seconds(took)}"
        for side, run, status, version, took in zip(
            "AB", (diff.a, diff.b), diff.status, diff.version, diff.duration, strict=True
        )
    ]


def _pair(pair: Any) -> str:
    a, b = pair
    if a is None or b is None:
        return str(b if a is None else a)
    return str(a) if a == b else f"{a} → {b}"


def _node_summary(node: NodeDiff) -> str:
    if node.change != "changed":
        return ""
    if node.value is not None and not node.value.equal:
        return node.value.summary
    bits = [r for r in node.reasons if r != "definition"]
    if node.definition:
        bits.append("definition: " + ", ".join(node.definition))
    return ", ".join(bits)


def _detail(row: CompareRow, value: ValueDiff) -> None:
    if value.kind == "picture":
        row.picture_a, row.picture_b = value.detail.get("a", ""), value.detail.get("b", "")
        # only pictures' own data: URIs are drawn
        if not (
            row.picture_a.startswith("data:image/") and row.picture_b.startswith("data:image/")
        ):
            row.picture_a = row.picture_b = ""
    elif value.kind == "frame":
        d = value.detail
        row.facts = [f"shape {d['shape'][0]} → {d['shape'][1]}"]
        row.facts += [f"column added: {c}" for c in d["columns_added"]]
        row.facts += [f"column removed: {c}" for c in d["columns_removed"]]
        row.facts += [f"dtype {c}: {x} → {y}" for c, (x, y) in d["dtypes"].items()]
        if d["rows_added"] or d["rows_removed"]:
            row.facts.append(f"rows added {d['rows_added']:,}, removed {d['rows_removed']:,}")
        row.facts += [
            f"{c}: {n:,} cell{'' if n == 1 else 's'} changed"
            + (f", max abs delta {d['max_abs_delta'][c]:.6g}" if c in d["max_abs_delta"] else "")
            for c, n in d["changed_by_column"].items()
        ]
        row.lines = "\n".join(
            f"row {r['index']}: "
            + ", ".join(f"{c}: {x} → {y}" for c, (x, y) in r["changes"].items())
            for r in d["rows"]
        )
    else:
        row.lines = "\n".join(value.lines or value.detail.get("unified", []))
    row.has_detail = bool(row.lines or row.facts or row.picture_a)
