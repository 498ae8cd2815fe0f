"""The heartbeat of one engine: a thread that renews, every ``lease_seconds / 3``, the leases of
the runs its passes hold and the attempt leases of the node code it is executing.

It runs on a thread of its own so that a busy or blocked event loop (an async node that calls
``time.sleep``) does not make a live process look dead: a run is taken over only when its
holder has stopped renewing, which means the process is gone or cannot reach the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from runtime.errors import StoreUnavailable
from runtime.store import Lease, Renewal, Store

log = logging.getLogger("plait.heartbeat")

Snapshot = Callable[[], tuple[Sequence[Lease], Sequence[int]]]
"""What to renew now: the leases held and the attempt rows being executed."""
Report = Callable[[Sequence[Lease], Renewal], None]
"""Told what a renewal found, for the leases it asked about."""


class Heartbeat:
    def __init__(
        self, store: Store, owner: str, seconds: float, snapshot: Snapshot, report: Report
    ) -> None:
        self.store = store
        self.owner = owner
        self.seconds = seconds
        self.snapshot = snapshot
        self.report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._beat, name="plait-heartbeat", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _beat(self) -> None:
        period = self.seconds / 3
        while not self._stop.wait(period):
            leases, attempts = self.snapshot()
            if not (leases or attempts):
                continue
            started = time.monotonic()
            try:
                renewal = self.store.renew(self.owner, leases, attempts, self.seconds)
            except StoreUnavailable as exc:
                # the leases have slack of two periods; the next beat tries again
                log.warning("cannot renew leases (%s)", exc)
                continue
            except Exception:
                log.exception("lease renewal failed")
                continue
            if time.monotonic() - started > period:
                log.warning("renewing leases took %.1fs", time.monotonic() - started)
            self.report(leases, renewal)
