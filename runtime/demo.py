"""The demo graph behind ``plait demo``: a small sales analysis with a diamond of nodes."""

from __future__ import annotations

import pandas as pd

from runtime.graph import Graph

graph = Graph("demo_sales", description="Load orders, summarise them two ways, report.")


@graph.node
def orders(days: int = 14) -> pd.DataFrame:
    """Synthetic daily orders for three regions."""
    dates = pd.date_range("2026-01-01", periods=days, freq="D")
    regions = ["north", "south", "west"]
    rows = [
        {"date": d, "region": r, "units": (i * 7 + j * 5) % 23 + 1, "price": 9.5 + j}
        for i, d in enumerate(dates)
        for j, r in enumerate(regions)
    ]
    return pd.DataFrame(rows)


@graph.node
def revenue_by_region(orders: pd.DataFrame) -> pd.DataFrame:
    frame = orders.assign(revenue=orders.units * orders.price)
    return frame.groupby("region", as_index=False)["revenue"].sum()


@graph.node
def best_day(orders: pd.DataFrame) -> dict:
    daily = orders.groupby("date")["units"].sum()
    return {"date": str(daily.idxmax().date()), "units": int(daily.max())}


@graph.node
def report(revenue_by_region: pd.DataFrame, best_day: dict) -> str:
    top = revenue_by_region.sort_values("revenue", ascending=False).iloc[0]
    total = revenue_by_region.revenue.sum()
    return (
        f"total revenue {total:,.2f}; top region {top.region} ({top.revenue:,.2f}); "
        f"best day {best_day['date']} with {best_day['units']} units"
    )
