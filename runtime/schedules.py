"""Schedules: what a cron trigger is, how one is checked before it is stored, and its next
fire times. Firing them is ``runtime.scheduler``'s job."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from runtime.cron import Cron, CronError
from runtime.errors import NotFound, PlaitError
from runtime.store.tables import Overlap, Schedule, utcnow

if TYPE_CHECKING:
    from runtime.client import Client

OVERLAPS: tuple[str, ...] = get_args(Overlap)


class ScheduleError(PlaitError, ValueError):
    """A schedule that cannot be stored as given; the message names the field."""


def check_options(overlap: str, catchup: int) -> None:
    if overlap not in OVERLAPS:
        raise ScheduleError(f"overlap must be one of {', '.join(OVERLAPS)}; got {overlap!r}")
    if not isinstance(catchup, int) or isinstance(catchup, bool) or not 0 <= catchup <= 1000:
        raise ScheduleError(f"catchup must be a whole number from 0 to 1000; got {catchup!r}")


def check_inputs_json(inputs: dict[str, Any]) -> None:
    """Schedule inputs are stored as JSON: each value must be plain data."""
    for name, value in inputs.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ScheduleError(f"input {name!r} of a schedule must be JSON data: {exc}") from None


@dataclass(frozen=True)
class Declared:
    """A schedule declared in code with ``Graph.schedule``; stored when the graph is
    published, found again by its ``key`` each time after."""

    cron: str
    tz: str = "UTC"
    inputs: dict[str, Any] = field(default_factory=dict)
    overlap: str = "skip"
    catchup: int = 1

    def __post_init__(self) -> None:
        Cron(self.cron, self.tz)
        check_options(self.overlap, self.catchup)
        check_inputs_json(self.inputs)

    @property
    def key(self) -> str:
        inputs = json.dumps(self.inputs, sort_keys=True, separators=(",", ":"))
        return f"code:{self.cron}|{self.tz}|{inputs}"[:200]

    def to_row(self) -> Schedule:
        return Schedule(
            workflow_id=0,
            cron=self.cron,
            tz=self.tz,
            inputs=dict(self.inputs),
            overlap=self.overlap,
            catchup=self.catchup,
            key=self.key,
            created_by="code",
        )


def create(
    client: Client,
    workflow: str,
    cron: str,
    *,
    tz: str = "UTC",
    inputs: dict[str, Any] | None = None,
    version: str | None = None,
    overlap: str = "skip",
    catchup: int = 1,
    created_by: str | None = None,
) -> tuple[Schedule, str]:
    """Check everything a fire will need, then store the schedule. Raises (storing nothing)
    ``CronError`` for the expression or zone, ``ScheduleError`` for an option, ``NotFound``
    for the workflow or version, ``InputError``/``CodecError`` for the inputs. Returns the
    schedule and its workflow's name."""
    Cron(cron, tz)
    check_options(overlap, catchup)
    inputs = dict(inputs or {})
    check_inputs_json(inputs)
    found = client.store.find_version(workflow, version)
    client.new_run(found, inputs, trigger="schedule")  # the inputs a fire will give
    row = Schedule(
        workflow_id=found.workflow_id,
        version=found.version if version else None,
        cron=cron,
        tz=tz,
        inputs=inputs,
        overlap=overlap,
        catchup=catchup,
        created_by=created_by,
    )
    return client.store.create_schedule(workflow, row), workflow


def next_fires(
    schedule: Schedule, count: int = 10, now: dt.datetime | None = None
) -> list[dt.datetime]:
    """The schedule's next ``count`` fire times after ``now`` (UTC)."""
    return Cron(schedule.cron, schedule.tz).next(now or utcnow(), count)


def parse_id(text: str) -> int:
    """A schedule id as typed; ``NotFound`` says what was expected."""
    try:
        return int(text)
    except ValueError:
        raise NotFound(
            f"schedule ids are numbers (see `plait schedules list`); got {text!r}"
        ) from None


__all__ = [
    "OVERLAPS",
    "CronError",
    "Declared",
    "ScheduleError",
    "check_inputs_json",
    "check_options",
    "create",
    "next_fires",
    "parse_id",
]
