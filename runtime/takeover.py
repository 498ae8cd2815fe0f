"""Which held runs another process may take over, and on what terms.

A holder renews its lease every ``lease_seconds / 3`` from a thread of its own, so a lease goes
unrenewed only when its process is gone or cannot reach the database. A run is taken over when
its holder is a process of this host that no longer exists, or when its lease stayed exactly as
it was (same epoch, same expiry) for a whole lease period *as watched by the taker*, on the
taker's own clock, while the taker could read the database. A database outage therefore makes
nobody take anything over: the watch starts again once the database answers, and by then the
live holders have renewed.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import time
from dataclasses import dataclass

from runtime.store import Takeover
from runtime.store.tables import Run


def process_owner() -> str:
    """Lease owner name: host and pid (so a crashed local owner can be recognised), and a
    random part (so a restarted process never mistakes an old lease for its own)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def dead_local_holders(held: list[Run]) -> list[tuple[str, Takeover]]:
    """Runs held by a process of this host that no longer exists: taken at once."""
    host = socket.gethostname()
    out = []
    for run in held:
        owner_host, _, rest = (run.lease_owner or "").partition(":")
        pid = rest.partition(":")[0]
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            out.append((run.id, Takeover(run.lease_owner or "", run.lease_epoch)))
    return out


@dataclass
class _Seen:
    epoch: int
    lease_until: dt.datetime | None
    since: float
    """When this lease was first seen as it is (monotonic)."""


class LeaseWatch:
    """Watches held leases from round to round of a reaper (or a ``recover``)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._seen: dict[str, _Seen] = {}

    def forget(self) -> None:
        """A round could not read the database: what was seen before proves nothing now."""
        self._seen.clear()

    def unrenewed(self, held: list[Run], now: float | None = None) -> list[tuple[str, Takeover]]:
        """The runs of ``held`` (all currently held leases) whose lease has not changed for a
        whole lease period, each with the takeover that is granted only if it still has not."""
        now = time.monotonic() if now is None else now
        seen_now: dict[str, _Seen] = {}
        stale = []
        for run in held:
            seen = self._seen.get(run.id)
            if seen is None or (seen.epoch, seen.lease_until) != (run.lease_epoch, run.lease_until):
                seen = _Seen(run.lease_epoch, run.lease_until, now)
            seen_now[run.id] = seen
            if now - seen.since >= self.seconds:
                owner = run.lease_owner or ""
                stale.append((run.id, Takeover(owner, run.lease_epoch, run.lease_until)))
        self._seen = seen_now
        return stale


class StalledBackoff:
    """A run whose code does not load in any process that tried it (``Run.error`` set while
    nobody holds it) is asked for again less and less often: after 1 s, 2 s, 4 s ... and then
    every 10 minutes, so a missing module or key does not become a busy loop."""

    def __init__(self, first: float = 1.0, cap: float = 600.0) -> None:
        self.first, self.cap = first, cap
        self._next: dict[str, tuple[float, float]] = {}
        """run id -> (when to ask again, the delay after that)"""

    def due(self, runs: list[Run], now: float | None = None) -> list[Run]:
        now = time.monotonic() if now is None else now
        stalled = {r.id for r in runs if r.error}
        self._next = {k: v for k, v in self._next.items() if k in stalled}
        out = []
        for run in runs:
            if not run.error:
                out.append(run)
                continue
            when, delay = self._next.get(run.id, (now, self.first))
            if now >= when:
                out.append(run)
                self._next[run.id] = (now + delay, min(delay * 2, self.cap))
        return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
