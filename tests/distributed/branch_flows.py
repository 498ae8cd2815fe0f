"""A graph with a branch for the distributed tests; importable by workers (graphs travel by
reference)."""

from __future__ import annotations

import os

import runtime as rt

routed = rt.Graph("dist_routed")


@routed.branch
def route(amount: float) -> str:
    return "big" if amount > 100 else "small"


@routed.node
def big(route: str, amount: float) -> int:
    return os.getpid()


@routed.node
def small(route: str, amount: float) -> int:
    return os.getpid()


routed.wait("approve", {"ok": bool}, after=["big"])


@routed.node(join="any")
def done(big: int | None, small: int | None, approve: dict | None) -> dict:
    return {"big": big, "small": small, "approve": approve, "pid": os.getpid()}
