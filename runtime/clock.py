"""The one clock the runtime reads: wall time for checkpoints, wake times, leases and
schedules, and the timers of a pass (a sleep ending while other nodes run, a retry's
backoff, a map element's backoff).

Everything asks ``current()`` rather than the system, so a test can install a clock it steps
(``runtime.testing.Clock``) and durable sleeps, wait timeouts, backoff and schedules pass at
once. Waits on infrastructure (a database briefly away, a lease watch) stay on real time: a
test clock must not make them give up early.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

Now = Callable[[], dt.datetime]
"""Now, as an aware datetime (what the scheduler and retention take as their ``clock``; a
``Clock`` is one)."""


class Clock:
    """The system's time. Subclasses change what ``now``, ``monotonic`` and ``sleep`` mean
    together, so a timer and the times written beside it agree."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        """Seconds for measuring intervals (timers kept in a heap)."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __call__(self) -> dt.datetime:
        return self.now()


SYSTEM = Clock()

_current: Clock = SYSTEM
_lock = threading.Lock()


def current() -> Clock:
    return _current


def now() -> dt.datetime:
    return _current.now()


async def sleep(seconds: float) -> None:
    await _current.sleep(seconds)


@contextlib.contextmanager
def installed(clock: Clock) -> Iterator[Clock]:
    """Make ``clock`` the process's clock for the block (every thread sees it: the engine
    runs nodes on its own threads and event loop)."""
    global _current
    with _lock:
        previous, _current = _current, clock
    try:
        yield clock
    finally:
        with _lock:
            _current = previous
