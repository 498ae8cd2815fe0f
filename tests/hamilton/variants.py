"""Hamilton fixture: ``@config.when`` variants; the config picks one."""

import pandas as pd
from hamilton.function_modifiers import config


def values(n: int) -> pd.Series:
    return pd.Series(range(1, n + 1))


@config.when(mode="sum")
def summary__sum(values: pd.Series) -> float:
    return float(values.sum())


@config.when(mode="mean")
def summary__mean(values: pd.Series) -> float:
    return float(values.mean())


@config.when_not(mode="sum")
def label__other(summary: float) -> str:
    return f"other {summary}"


@config.when(mode="sum")
def label__sum(summary: float) -> str:
    return f"sum {summary}"
