"""How long a failed attempt waits before the next one: exponential, capped, jittered."""

from __future__ import annotations

import random

MAX_BACKOFF = 300.0
"""Seconds no wait exceeds, however many failures."""


def backoff(base: float, failures: int) -> float:
    """Exponential backoff with full jitter between 50% and 100% of the step (``base``
    seconds after the first failure, doubling with each)."""
    step = min(base * 2 ** (failures - 1), MAX_BACKOFF)
    return step * random.uniform(0.5, 1.0)
