"""A map with failing elements, shared by the view and report tests."""

from __future__ import annotations

import runtime as rt

collecting = rt.Graph("map_view_demo")


@collecting.node
def items(n: int = 8) -> list[int]:
    return list(range(n))


@collecting.map(over="items", on_error="collect", concurrency=4)
def checked(items: int) -> int:
    if items in (2, 5):
        raise ValueError(f"no {items}")
    return items * 10
