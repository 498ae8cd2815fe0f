"""Hamilton fixture: ``@pipe`` steps applied to a node's first input."""

import pandas as pd
from hamilton.function_modifiers import pipe, source, step, value


def _add(series: pd.Series, amount: float) -> pd.Series:
    return series + amount


def _scale(series: pd.Series, factor: float) -> pd.Series:
    return series * factor


def start(n: int) -> pd.Series:
    return pd.Series(range(n), dtype="float64")


@pipe(
    step(_add, amount=value(1.0)),
    step(_scale, factor=source("factor")),
)
def finished(start: pd.Series) -> pd.Series:
    return start.round(2)
