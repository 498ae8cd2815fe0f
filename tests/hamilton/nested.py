"""Hamilton fixture: ``@subdag`` reusing functions under a namespace with its own config,
and ``@does`` naming another function as a node's body."""

import pandas as pd
from hamilton.function_modifiers import does, subdag, value
from hamilton.function_modifiers import source as src

from tests.hamilton import variants


@subdag(variants, inputs={"n": src("size")}, config={"mode": "mean"})
def mean_label(label: str) -> str:
    return label.upper()


@subdag(variants, inputs={"n": value(4)}, config={"mode": "sum"})
def sum_label(label: str) -> str:
    return label.upper()


def _sum_all(**series: pd.Series) -> pd.Series:
    return sum(series.values())  # type: ignore[return-value]


def first(size: int) -> pd.Series:
    return pd.Series(range(size), dtype="float64")


def second(first: pd.Series) -> pd.Series:
    return first * 2


@does(_sum_all)
def both(first: pd.Series, second: pd.Series) -> pd.Series:
    pass
