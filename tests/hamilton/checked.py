"""Hamilton fixture: ``@check_output`` validators; ``strict`` fails, ``lenient`` only warns."""

import pandas as pd
from hamilton.function_modifiers import check_output


def numbers(low: int, high: int) -> pd.Series:
    return pd.Series(range(low, high), dtype="int64")


@check_output(range=(0, 100), importance="fail")
def strict(numbers: pd.Series) -> pd.Series:
    return numbers * 10


@check_output(range=(0, 5), importance="warn")
def lenient(numbers: pd.Series) -> pd.Series:
    return numbers + 1
