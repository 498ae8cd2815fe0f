"""Pause points for fault tests: a pass can be held at a named point (``PLAIT_FAULT_PAUSE=
acquired:0.8``) so a test can make a takeover or a duplicate delivery land exactly there.

Unset, ``PAUSES`` is empty and call sites skip the call (``if faults.PAUSES: ...``), so the hot
path pays one dictionary truth test.
"""

from __future__ import annotations

import asyncio
import logging

from runtime.config import settings

log = logging.getLogger("plait.faults")

POINTS = ("acquired", "before_step", "executed")
"""``acquired``: a pass holds the lease and has read its checkpoints, before its first write;
``before_step``: before each checkpoint write; ``executed``: a node's code has returned, before
its outcome is recorded."""


def _parse(text: str | None) -> dict[str, float]:
    pauses: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        point, _, seconds = part.partition(":")
        if point.strip() not in POINTS:
            raise ValueError(f"PLAIT_FAULT_PAUSE: unknown point {point!r} (points: {POINTS})")
        try:
            pause = float(seconds)
        except ValueError:
            pause = -1.0
        if not pause >= 0:  # NaN and negatives too: a pause nobody could mean
            raise ValueError(
                f"PLAIT_FAULT_PAUSE: {part.strip()!r} needs seconds >= 0 after the colon "
                f"(e.g. {point.strip()}:0.8)"
            )
        pauses[point.strip()] = pause
    return pauses


PAUSES: dict[str, float] = _parse(settings().fault_pause)


async def pause(point: str) -> None:
    seconds = PAUSES.get(point)
    if seconds:
        log.warning("fault pause: holding at %s for %.2fs", point, seconds)
        await asyncio.sleep(seconds)
