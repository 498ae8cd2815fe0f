"""Graphs for the everyday-use browser tests: a big one whose node names are long."""

from __future__ import annotations

import runtime as rt

STAGES = ("extract", "validate", "transform", "enrich", "aggregate", "publish")
SOURCES = (
    "customer_orders",
    "supplier_invoices",
    "warehouse_stock",
    "shipping_events",
    "payment_refunds",
    "marketing_leads",
)


def long_names(name: str = "studio_long_names") -> rt.Graph:
    """36 nodes: six sources, each through six stages, named like
    ``extract_customer_orders_records``; a stage reads the one before it."""
    g = rt.Graph(name, description="36 nodes with long names.")
    for source in SOURCES:
        previous = None
        for stage in STAGES:
            node = f"{stage}_{source}_records"
            if previous is None:
                g.add(node, _root)
            else:
                g.add(node, _step, inputs={"value": previous})
            previous = node
    return g


def _root() -> int:
    return 1


def _step(value: int) -> int:
    return value + 1


def one_node(name: str = "studio_many") -> rt.Graph:
    """A single quick node: runs to fill pages of the runs list."""
    g = rt.Graph(name, description="One quick node.")
    g.add("one", _root)
    return g
