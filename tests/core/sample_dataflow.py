"""A Hamilton-style module: plain functions whose parameter names are their dependencies."""

from os.path import join  # imported functions are not nodes

import pandas as pd


def raw(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"x": list(range(n))})


def doubled(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(y=raw.x * 2)


def total(doubled: pd.DataFrame) -> int:
    return _sum(doubled.y)


def label(total: int, prefix: str = "sum") -> str:
    return join(prefix, str(total))


def _sum(series: pd.Series) -> int:
    return int(series.sum())
