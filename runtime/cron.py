"""Cron expressions read in a time zone: fire times as aware UTC datetimes.

``croniter`` parses and steps; this module adds what it leaves to the caller: validation with
a message naming what is wrong, and the day of a daylight-saving change read as cron reads it.
A wall time skipped when clocks go forward fires at the first instant after the gap (croniter
already does so); a wall time that occurs twice when clocks go back fires once, at its first
occurrence, when the expression names its hours. Expressions with ``*`` hours fire by the
clock (every real hour), so the repeated hour's fires happen in both of its occurrences.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from runtime.errors import PlaitError


class CronError(PlaitError, ValueError):
    """A cron expression or time zone that cannot be used."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``CronError`` naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(
            f"unknown time zone {name!r} (use an IANA name like 'Europe/Berlin' or 'UTC')"
        ) from None


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression in a time zone (an optional sixth field, croniter's,
    gives seconds: ``"* * * * * */5"`` fires every five seconds)."""

    expr: str
    tz: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.tz)
        fields = self.expr.split()
        if len(fields) not in (5, 6):
            raise CronError(
                f"cron expression {self.expr!r} has {len(fields)} fields; expected 5 "
                "(minute hour day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'; a sixth "
                "gives seconds)"
            )
        try:
            steps = croniter(self.expr, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        except (CroniterBadCronError, ValueError, KeyError) as exc:
            raise CronError(f"cron expression {self.expr!r} is not valid: {exc}") from None
        try:
            steps.get_next(dt.datetime)
        except CroniterBadDateError:
            raise CronError(f"cron expression {self.expr!r} never fires") from None

    @property
    def _fixed_hours(self) -> bool:
        return self.expr.split()[1] != "*"

    def after(self, start: dt.datetime) -> Iterator[dt.datetime]:
        """Fire times strictly after ``start`` (aware), in order, as UTC."""
        tz = zone(self.tz)
        steps = croniter(self.expr, start.astimezone(tz))
        while True:
            local: dt.datetime = steps.get_next(dt.datetime)
            if self._fixed_hours and _second_occurrence(local, tz):
                continue
            yield local.astimezone(dt.UTC)

    def next(self, start: dt.datetime, count: int) -> list[dt.datetime]:
        """The next ``count`` fire times after ``start``."""
        times = self.after(start)
        return [next(times) for _ in range(count)]

    def due(self, cursor: dt.datetime, now: dt.datetime, keep: int) -> list[dt.datetime]:
        """The latest ``keep`` fire times in ``(cursor, now]``, oldest first. Costs
        ``O(keep)`` steps however long ago ``cursor`` is (a long downtime is not replayed)."""
        if keep <= 0 or now <= cursor:
            return []
        tz = zone(self.tz)
        back = croniter(self.expr, now.astimezone(tz) + dt.timedelta(microseconds=1))
        start = cursor
        for _ in range(keep + 1):
            earlier = back.get_prev(dt.datetime).astimezone(dt.UTC)
            if earlier <= cursor:
                break
            start = earlier - dt.timedelta(microseconds=1)
        fires = []
        for fire in self.after(max(start, cursor)):
            if fire > now:
                break
            if fire > cursor:  # croniter steps from whole seconds: never one at or before
                fires.append(fire)
        return fires[-keep:]


def _second_occurrence(local: dt.datetime, tz: ZoneInfo) -> bool:
    """Whether ``local`` is the repeat of a wall time that occurs twice (clocks went back)."""
    naive = local.replace(tzinfo=None)
    first = naive.replace(tzinfo=tz, fold=0).utcoffset()
    second = naive.replace(tzinfo=tz, fold=1).utcoffset()
    return first != second and local.utcoffset() == second and local.utcoffset() != first
