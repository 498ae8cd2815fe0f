"""The graph of the Redis outage tests: its middle node holds until its gate file exists,
so the test decides which passes are in flight while Redis is away; every node appends
``run_id:node:attempt`` to the effects file (``tests.faults.flows.record``)."""

from __future__ import annotations

from pathlib import Path

import runtime as rt
from tests.faults.flows import hold_until, record

held = rt.Graph("outage_held")


@held.node
def opening(effects: str) -> int:
    record(effects, "opening")
    return 1


@held.node
def holding(opening: int, effects: str, gate: str) -> int:
    record(effects, "holding")
    Path(gate + ".started").touch()
    hold_until(Path(gate))
    return opening + 1


@held.node
def closing(holding: int, effects: str) -> int:
    record(effects, "closing")
    return holding * 10
