"""Graphs whose nodes count their executions in files (a line per call), so a test in any
process (this one, a CLI, a worker) can tell which nodes ran again."""

from __future__ import annotations

from pathlib import Path

import runtime as rt


def _count(ledger: str, node: str) -> None:
    with (Path(ledger) / node).open("a") as f:
        f.write("x\n")


def executions(ledger: Path | str) -> dict[str, int]:
    """Node -> how many times its code ran."""
    return {p.name: len(p.read_text().splitlines()) for p in Path(ledger).iterdir()}


flaky = rt.Graph("retry_flaky")
"""``prepare -> fragile -> publish`` and ``prepare -> side``: ``fragile`` fails (no retries)
until the file ``fix`` names exists."""


@flaky.node
def prepare(ledger: str, n: int = 2) -> int:
    _count(ledger, "prepare")
    return n * 10


@flaky.node(retries=0)
def fragile(prepare: int, ledger: str, fix: str) -> int:
    _count(ledger, "fragile")
    if not Path(fix).exists():
        raise RuntimeError("the fix is not in yet")
    return prepare + 1


@flaky.node
def publish(fragile: int, ledger: str) -> str:
    _count(ledger, "publish")
    return f"published {fragile}"


@flaky.node
def side(prepare: int, ledger: str) -> int:
    _count(ledger, "side")
    return prepare * 2


gated = rt.Graph("retry_gated")
"""``first -> approve (wait) -> last``."""


@gated.node
def first(ledger: str) -> str:
    _count(ledger, "first")
    return "drafted"


gated.wait("approve", {"ok": bool}, after=["first"])


@gated.node
def last(first: str, approve: dict, ledger: str) -> str:
    _count(ledger, "last")
    return f"{first}: {'ok' if approve['ok'] else 'no'}"


slow_retry = rt.Graph("retry_backoff")
"""``wobbly`` fails once, then waits a long backoff before its second attempt."""


@slow_retry.node(retries=1, backoff=120.0)
def wobbly(ledger: str) -> int:
    _count(ledger, "wobbly")
    raise ValueError("wobble")
