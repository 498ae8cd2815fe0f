"""Hamilton fixture whose middle node can be made to hang (``PLAIT_TEST_HANG`` names a marker
file it creates first), so that its process can be killed mid-run and the run recovered."""

import os
import threading
from pathlib import Path

import pandas as pd
from hamilton.function_modifiers import extract_columns, pipe, step, value


def _double(series: pd.Series, by: float) -> pd.Series:
    return series * by


@extract_columns("a", "b")
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n), "b": [i * 0.5 for i in range(n)]})


def total(a: pd.Series, b: pd.Series) -> pd.Series:
    marker = os.environ.get("PLAIT_TEST_HANG")
    if marker:
        Path(marker).touch()
        threading.Event().wait()  # until the process is killed
    return a + b


@pipe(step(_double, by=value(2.0)))
def result(total: pd.Series) -> pd.Series:
    return total.cumsum()
