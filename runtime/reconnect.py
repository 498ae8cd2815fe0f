"""Riding out an unreachable Redis: which errors mean "Redis is not there", how long to wait
before the next attempt, and what to log (a line when the connection is lost, a reminder now
and then, a line when it is back; never one line per attempt)."""

from __future__ import annotations

import logging
import random
import socket
import time

import redis

REDIS_DOWN: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)
"""Errors of a lost or refused connection (``BusyLoadingError``, a Redis still loading its
data, is a ``ConnectionError`` too); any other Redis error is a real error."""

KEEPALIVE_OPTIONS: dict[int, int | bytes] = {
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)  # Linux names; other systems keep their defaults
}
"""TCP keepalive probes for Redis connections: a reader blocked without a socket timeout on a
host that vanished (no reset ever arrives) learns it in about 25 s, not the kernel's 2 h."""

FIRST_DELAY = 0.05
"""Seconds before the first reconnection attempt; each failure doubles it."""

MAX_DELAY = 2.0
"""The longest wait between attempts: how late, at most, a reader notices Redis is back."""

REMIND_EVERY = 60.0
"""While Redis stays away, say so again this often (seconds)."""


class Outage:
    """One reader's view of Redis being unreachable: call ``failed`` after each failed
    attempt (it returns how long to wait before the next one: capped exponential, with
    jitter so that many processes do not reconnect in step) and ``recovered`` after each
    success."""

    def __init__(self, what: str, log: logging.Logger) -> None:
        self.what = what
        """Who is reading, for the log (``stream reader``, ``event bus``, ...)."""
        self.log = log
        self.since: float | None = None
        """``time.monotonic()`` of the first failure of the current outage."""
        self.failures = 0
        self._reminded = 0.0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> float:
        now = time.monotonic()
        if self.since is None:
            self.since = self._reminded = now
            self.log.warning("%s: Redis is unreachable (%s); reconnecting", self.what, exc)
        elif now - self._reminded >= REMIND_EVERY:
            self._reminded = now
            self.log.warning(
                "%s: Redis still unreachable after %.0f s (%s)", self.what, now - self.since, exc
            )
        delay = min(MAX_DELAY, FIRST_DELAY * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)  # spreads reconnects out

    def recovered(self) -> float | None:
        """Seconds the outage lasted when this ends one, else ``None``."""
        if self.since is None:
            return None
        lasted = time.monotonic() - self.since
        self.since, self.failures = None, 0
        self.log.warning("%s: Redis is back after %.1f s", self.what, lasted)
        return lasted
