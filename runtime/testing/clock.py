"""A clock a test steps: durable sleeps, wait timeouts, retries' backoff and schedules pass
at once instead of in real time."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import threading
from collections.abc import Callable

from runtime import clock as runtime_clock


class Clock(runtime_clock.Clock):
    """Time that moves only when told (``advance``) or when the runtime waits on it.

    A timer of a pass (a retry's backoff, a sleep ending while other nodes run) ends at once
    and moves the clock to its end, so a test never waits for one. What a run parks on (a
    durable sleep, a wait left to time out) is passed by ``rt.testing.run`` too when ``auto``
    (the default); with ``auto=False`` the run stops there and ``clock.advance(hours=2)``
    moves time on and continues it.
    """

    def __init__(self, start: dt.datetime | None = None, *, auto: bool = True) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError(f"a test clock starts at an aware datetime, not the naive {start}")
        self._now = (start or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        self.start = self._now
        self.auto = auto
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        """Runs stopped on this clock (``auto=False``): continued after each ``advance``."""

    def __repr__(self) -> str:
        return f"<plait.testing.Clock {self.now():%Y-%m-%d %H:%M:%S} UTC, +{self.elapsed}>"

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    @property
    def elapsed(self) -> dt.timedelta:
        """How far the clock has moved since it started."""
        return self.now() - self.start

    def monotonic(self) -> float:
        return self.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        # timers started together end at the latest of their ends, not at their sum
        # rounded up to the microsecond a datetime holds: a timer compared against
        # ``monotonic`` must see its end passed, or it would wait again for nothing
        step = dt.timedelta(microseconds=math.ceil(max(seconds, 0.0) * 1e6))
        self.move_to(self.now() + step)
        await asyncio.sleep(0)

    def move_to(self, when: dt.datetime) -> None:
        """Move forward to ``when`` (never back: stored times only grow)."""
        with self._lock:
            self._now = max(self._now, when)

    def advance(self, delta: dt.timedelta | float | None = None, **units: float) -> dt.datetime:
        """Move time on by ``delta`` (a timedelta or seconds) or by ``timedelta`` units
        (``hours=2``), then continue the runs stopped on this clock. Returns the new now."""
        if delta is not None and units:
            raise TypeError("advance takes a delta or timedelta units (hours=2), not both")
        if isinstance(delta, dt.timedelta):
            step = delta
        elif delta is not None:
            step = dt.timedelta(seconds=delta)
        else:
            step = dt.timedelta(**units)
        if step < dt.timedelta(0):
            raise ValueError(f"a clock only moves forward, not by {step}")
        self.move_to(self.now() + step)
        for listener in list(self._listeners):
            listener()
        return self.now()

    def _listen(self, listener: Callable[[], None]) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def _forget(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
