"""The scheduler: fires due schedules and queues due delayed runs.

Exactly once, by two guards: one process per database leads (the ``"scheduler"`` leadership,
a PostgreSQL advisory lock), and each fire time is stored once (the unique (schedule, fire
time) of ``schedule_fire``, written in the same transaction as the run it starts), so even two
leaders for a moment cannot start a fire time twice. Time comes from a clock the caller may
replace: tests step it instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.clock import Now
from runtime.cron import Cron, CronError
from runtime.errors import PlaitError
from runtime.store.contract import NewRun
from runtime.store.tables import Schedule, WorkflowVersion, utcnow

if TYPE_CHECKING:
    from runtime.client import Client

log = logging.getLogger("plait.scheduler")

Clock = Now
"""Now, as an aware datetime: ``runtime.clock``'s, so a ``runtime.testing.Clock`` is one."""


@dataclass(frozen=True)
class Fired:
    """One fire time handled by this scheduler."""

    schedule_id: int
    fire_at: dt.datetime
    outcome: str
    """``started``, ``skipped`` (the previous run still active, overlap ``skip``),
    ``pending`` (overlap ``queue_one``: started once the previous run finishes) or ``failed``
    (no run could be made: the fire record says why)."""
    run_id: str | None


class Scheduler:
    """Fires ``client``'s schedules on ``clock``. ``schedules=False`` only queues delayed
    runs (an embedded client's own helper)."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock = utcnow,
        schedules: bool = True,
        poll: float = 1.0,
    ) -> None:
        self.client = client
        self.clock = clock
        self.schedules = schedules
        self.poll = poll
        """Longest wait between rounds: how soon a new schedule or delayed run is seen."""
        self.leadership = client.store.leader("scheduler")
        self._confirmed = -1e9
        """``time.monotonic()`` when leadership was last confirmed."""
        self._known: list[tuple[Schedule, str]] = []
        """The schedules the last round read (for ``next_wake``)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round ---------------------------------------------------------------------------

    def tick(self) -> list[Fired]:
        """One round at ``clock()``: (when this process leads) fire each active schedule's
        due fire times, then queue due delayed runs. Returns the fires it stored."""
        now = self.clock()
        fired: list[Fired] = []
        if self.schedules and self._leading():
            self._known = self.client.store.schedules()
            versions: dict[tuple[str, str | None], WorkflowVersion] = {}
            for schedule, workflow in self._known:
                if schedule.paused:
                    continue
                try:
                    fired += self._fire_due(schedule, workflow, now, versions)
                except PlaitError as exc:
                    # a schedule whose workflow lost its version, or a bad cron stored by an
                    # older release: the others still fire
                    log.warning("schedule %s (%s) cannot fire: %s", schedule.id, workflow, exc)
        for run_id, events in self.client.store.release_due(now):
            self.client.queued(run_id, events)
        return fired

    def _leading(self) -> bool:
        """Whether this process leads. A held session lock stays held while its session
        lives, so it is confirmed at most every few rounds, not on each: should the session
        die unnoticed meanwhile, the unique fire time still keeps a second run out."""
        if time.monotonic() - self._confirmed < 5 * self.poll:
            return True
        if self.leadership.hold():
            self._confirmed = time.monotonic()
            return True
        self._confirmed = -1e9
        return False

    def _fire_due(
        self,
        schedule: Schedule,
        workflow: str,
        now: dt.datetime,
        versions: dict[tuple[str, str | None], WorkflowVersion],
    ) -> list[Fired]:
        assert schedule.id is not None
        store = self.client.store
        fired: list[Fired] = []
        active = store.schedule_active_runs(schedule.id) if schedule.overlap != "allow" else 0
        if schedule.overlap == "queue_one" and not active:
            for pending in store.schedule_fires(schedule.id, 1, outcome="pending"):
                assert pending.id is not None
                started = store.start_pending_fire(
                    pending.id,
                    self._new_run(schedule, workflow, versions),
                    self.client.settings.inline_limit,
                )
                if started is not None:
                    self.client.hand_over(*started)
                    fired.append(Fired(schedule.id, pending.fire_at, "started", started[0].id))
                    active = 1
        cursor = schedule.last_fire_at or schedule.created_at
        for fire_at in Cron(schedule.cron, schedule.tz).due(cursor, now, schedule.catchup):
            outcome = "started"
            if active and schedule.overlap == "skip":
                outcome = "skipped"
            elif active and schedule.overlap == "queue_one":
                waiting = store.schedule_fires(schedule.id, 1, outcome="pending")
                outcome = "skipped" if waiting else "pending"
            new_run, error = None, None
            if outcome == "started":
                try:
                    new_run = self._new_run(schedule, workflow, versions)
                except PlaitError as exc:
                    # its version gone, its inputs no longer fit: recorded once, not retried
                    # every round
                    outcome, error = "failed", str(exc)
                    log.warning(
                        "schedule %s (%s) cannot start a run: %s", schedule.id, workflow, exc
                    )
            stored = store.fire_schedule(
                schedule.id, fire_at, outcome, new_run, self.client.settings.inline_limit, error
            )
            if stored is None:
                continue  # another scheduler stored this fire time first
            record, events = stored
            if record is not None:
                self.client.hand_over(record, events)
                active += 1
            fired.append(Fired(schedule.id, fire_at, outcome, record.id if record else None))
        return fired

    def _new_run(
        self,
        schedule: Schedule,
        workflow: str,
        versions: dict[tuple[str, str | None], WorkflowVersion],
    ) -> NewRun:
        key = (workflow, schedule.version)
        if key not in versions:  # once per round: the latest may move between rounds
            versions[key] = self.client.store.find_version(workflow, schedule.version)
        version = versions[key]
        return self.client.new_run(
            version,
            dict(schedule.inputs),
            trigger="schedule",
            owner=schedule.created_by,
            trigger_ref=f"schedule:{schedule.id}",
        )

    def next_wake(self, now: dt.datetime) -> float:
        """Seconds until the next round is worth doing: the earliest next fire time of an
        active schedule, at most ``poll``."""
        wait = self.poll
        if self.schedules:
            for schedule, _ in self._known:
                if schedule.paused:
                    continue
                try:
                    upcoming = Cron(schedule.cron, schedule.tz).next(now, 1)[0]
                except CronError:
                    continue
                wait = min(wait, (upcoming - now).total_seconds())
        return max(wait, 0.0)

    # -- running -----------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Rounds until ``stop``. A round that fails (the database away) is logged and
        tried again; leadership is given up then, so another scheduler may take over."""
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                    wait = self.next_wake(self.clock())
                except Exception as exc:
                    log.warning("scheduler round failed: %s", exc)
                    self.leadership.release()
                    self._confirmed = -1e9
                    wait = self.poll
                self._stop.wait(wait)
        finally:
            self.leadership.release()

    def start(self) -> Scheduler:
        """Run rounds on a daemon thread; returns at once."""
        self._thread = threading.Thread(
            target=self.run_forever, name="plait-scheduler", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
