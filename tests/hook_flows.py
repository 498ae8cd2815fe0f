"""Graphs the webhook tests start (importable by a studio process and by workers)."""

from __future__ import annotations

from typing import Any

import runtime as rt

echo = rt.Graph("hook_echo", description="Returns the body it was started with.")


@echo.node
def received(payload: Any) -> Any:
    return payload


order = rt.Graph("hook_order", description="An order from a shop: mapped body fields.")


@order.node
def total(sku: str, quantity: int, note: str = "") -> dict:
    return {"sku": sku, "quantity": quantity, "note": note}
