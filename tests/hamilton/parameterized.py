"""Hamilton fixture: one function expanded into several nodes with ``@parameterize``."""

import pandas as pd
from hamilton.function_modifiers import parameterize, source, value


def base(n: int) -> pd.Series:
    return pd.Series(range(n), dtype="float64")


@parameterize(
    doubled={"series": source("base"), "factor": value(2.0)},
    tripled={"series": source("base"), "factor": value(3.0)},
)
def scaled(series: pd.Series, factor: float) -> pd.Series:
    return series * factor


def combined(doubled: pd.Series, tripled: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"doubled": doubled, "tripled": tripled})
