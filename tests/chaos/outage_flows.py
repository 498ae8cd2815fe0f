"""The graph of the Redis outage tests: its middle node holds until its gate file exists,
so the test decides which passes are in flight while Redis is away; every node writes its
execution to the ledger (``tests/chaos/ledger.py``)."""

from __future__ import annotations

from pathlib import Path

import runtime as rt
from tests.chaos.flows import begin, end, work
from tests.faults.flows import hold_until

held = rt.Graph("outage_held")


@held.node
def opening(ledger: str) -> int:
    return work(ledger, 0.0, 1)


@held.node
def holding(opening: int, ledger: str, gate: str) -> int:
    row = begin(ledger)
    Path(gate + ".started").touch()
    hold_until(Path(gate))
    end(ledger, row)
    return opening + 1


@held.node
def closing(holding: int, ledger: str) -> int:
    return work(ledger, 0.0, holding * 10)


HELD_OUTPUTS = {"closing": 20}
