"""Hamilton fixture: a DataFrame split into columns with ``@extract_columns``."""

import pandas as pd
from hamilton.function_modifiers import extract_columns


@extract_columns("spend", "signups")
def raw(rows: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {"spend": [float(i * 10) for i in range(rows)], "signups": range(1, rows + 1)}
    )


def spend_per_signup(spend: pd.Series, signups: pd.Series) -> pd.Series:
    return spend / signups


def total_spend(spend: pd.Series) -> float:
    return float(spend.sum())
