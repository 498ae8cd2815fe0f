"""Hamilton fixture whose node fails on its first attempt (it runs only under Plait here)."""

import pandas as pd

import runtime as rt


def series(n: int) -> pd.Series:
    return pd.Series(range(n))


def shaky(series: pd.Series) -> pd.Series:
    if rt.current().attempt == 1:
        raise ConnectionError("the warehouse hung up")
    return series * 2
