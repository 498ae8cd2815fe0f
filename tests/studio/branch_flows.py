"""A graph with a branch for the studio's browser tests (the studio imports it by
reference)."""

from __future__ import annotations

import runtime as rt

routed = rt.Graph("studio_routed", description="A branch: one path taken, one greyed.")


@routed.branch
def route(amount: float = 500) -> str:
    return "big" if amount > 100 else "small"


@routed.node
def big(route: str, amount: float = 500) -> str:
    return f"big {amount:g}"


@routed.node
def small(route: str, amount: float = 500) -> str:
    return f"small {amount:g}"


@routed.node
def after_small(small: str) -> str:
    return small.upper()


@routed.node(join="any")
def report(big: str | None, small: str | None) -> str:
    return f"{big} / {small}"
