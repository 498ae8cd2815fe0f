"""Schedules as the studio shows them: next fire times in the viewer's time zone (the
browser's, sent by the page; UTC until it has)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from runtime import schedules
from runtime.cron import CronError, zone
from runtime.store import Store
from runtime.store.tables import Schedule
from studio.logic import fmt

SHOWN_FIRES = 5


@dataclass
class ScheduleItem:
    id: int
    workflow: str
    workflow_href: str
    cron: str
    tz: str
    overlap: str
    paused: bool
    source: str
    """``code`` (declared with ``@g.schedule``) or who made it."""
    next_fire: str
    """The next fire time in the viewer's zone; ``paused`` while paused."""
    next_fires: list[str]
    last_fire: str


def viewer_zone(name: str) -> str:
    """The browser's zone when it is a known IANA name, else UTC."""
    try:
        zone(name)
    except CronError:
        return "UTC"
    return name


def when(at: dt.datetime, tz: str) -> str:
    return at.astimezone(zone(tz)).strftime("%a %Y-%m-%d %H:%M:%S %Z")


def item(
    schedule: Schedule, workflow: str, tz: str, now: dt.datetime | None = None
) -> ScheduleItem:
    assert schedule.id is not None
    upcoming = [] if schedule.paused else schedules.next_fires(schedule, SHOWN_FIRES, now)
    shown = [when(at, tz) for at in upcoming]
    return ScheduleItem(
        id=schedule.id,
        workflow=workflow,
        workflow_href=fmt.workflow_href(workflow),
        cron=schedule.cron,
        tz=schedule.tz,
        overlap=schedule.overlap,
        paused=schedule.paused,
        source="code" if schedule.key else (schedule.created_by or ""),
        next_fire=shown[0] if shown else "paused",
        next_fires=shown,
        last_fire=when(schedule.last_fire_at, tz) if schedule.last_fire_at else "never",
    )


def items(
    store: Store, tz: str, workflow: str | None = None, reach: Any = None
) -> list[ScheduleItem]:
    """The schedules (of ``workflow``), those ``reach(workflow)`` allows."""
    return [
        item(s, name, tz) for s, name in store.schedules(workflow) if reach is None or reach(name)
    ]
