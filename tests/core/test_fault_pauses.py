"""The fault tests' pause points (``PLAIT_FAULT_PAUSE``): what they accept and how a typo in
a test's setting is told apart from a pause that silently never happens."""

from __future__ import annotations

import pytest

from runtime import faults


def test_pauses_parse_per_point() -> None:
    assert faults._parse(None) == {}
    assert faults._parse("acquired:0.8, executed:4") == {"acquired": 0.8, "executed": 4.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("takeover:0.8", "unknown point 'takeover'"),
        ("acquired", "'acquired' needs seconds >= 0"),
        ("acquired:soon", "'acquired:soon' needs seconds >= 0"),
        ("acquired:-1", "'acquired:-1' needs seconds >= 0"),
        ("acquired:nan", "'acquired:nan' needs seconds >= 0"),
    ],
)
def test_a_bad_pause_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        faults._parse(text)
