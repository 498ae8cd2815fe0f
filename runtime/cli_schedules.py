"""``plait schedules``: cron triggers of the configured store (create, list, pause, resume,
delete, next). Each change goes to the audit log as ``cli:<os user>``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from runtime import audit
from runtime.cli_common import fail, refused
from runtime.errors import PlaitError

if TYPE_CHECKING:
    from runtime.client import Client
    from runtime.store.tables import Schedule

schedules_app = typer.Typer(
    help="Cron schedules: create, list, pause, resume, delete, next.", no_args_is_help=True
)


def _client() -> Client:
    import runtime as rt

    client = rt.default_client()
    if not hasattr(client, "store"):
        raise fail(
            "plait schedules works on the store itself; unset PLAIT_API_URL, or use the "
            "studio's /api/v1/schedules"
        )
    return client


def _line(schedule: Schedule, workflow: str) -> str:
    from runtime.schedules import next_fires

    state = "paused" if schedule.paused else "active"
    upcoming = "-" if schedule.paused else _when(next_fires(schedule, 1)[0], schedule.tz)
    version = schedule.version or "latest"
    return (
        f"{schedule.id:<4} {workflow[:20]:20} {schedule.cron:18} {schedule.tz:16} "
        f"{state:7} {schedule.overlap:9} {version[:12]:12} {upcoming}"
    )


def _when(at: dt.datetime, tz: str) -> str:
    from runtime.cron import zone

    return at.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")


@schedules_app.command("create")
def create(
    workflow: str,
    cron: Annotated[str, typer.Option(help='Cron expression, e.g. "0 9 * * MON-FRI".')],
    tz: Annotated[str, typer.Option(help="IANA time zone the cron is read in.")] = "UTC",
    inputs: Annotated[list[str] | None, typer.Option("-i", "--input", help="key=value")] = None,
    version: Annotated[
        str, typer.Option(help="latest (at each fire) or a version hash (prefix).")
    ] = "latest",
    overlap: Annotated[str, typer.Option(help="skip, allow or queue_one.")] = "skip",
    catchup: Annotated[
        int, typer.Option(help="Missed fires started after downtime (the latest ones).")
    ] = 1,
) -> None:
    """Schedule runs of a published workflow."""
    from runtime import schedules
    from runtime.cli import parse_inputs

    client = _client()
    values = parse_inputs(inputs or [])
    try:
        schedule, name = schedules.create(
            client,
            workflow,
            cron,
            tz=tz,
            inputs=values,
            version=None if version == "latest" else version,
            overlap=overlap,
            catchup=catchup,
            created_by=audit.cli_actor(),
        )
    except PlaitError as exc:
        raise refused(client.store, "schedule.create", exc, target=workflow, cron=cron) from None
    audit.record(
        client.store,
        "schedule.create",
        actor=audit.cli_actor(),
        target=f"schedule:{schedule.id}",
        detail={"workflow": name, "cron": cron, "tz": tz},
    )
    first = schedules.next_fires(schedule, 1)[0]
    typer.echo(f"schedule {schedule.id}: {name} at {cron!r} ({tz}); next {_when(first, tz)}")


@schedules_app.command("list")
def list_(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
) -> None:
    """Schedules with their next fire time."""
    rows = _client().store.schedules(workflow)
    if not rows:
        typer.echo("no schedules")
        return
    typer.echo(
        f"{'ID':4} {'WORKFLOW':20} {'CRON':18} {'TZ':16} {'STATE':7} {'OVERLAP':9} "
        f"{'VERSION':12} NEXT"
    )
    for schedule, name in rows:
        typer.echo(_line(schedule, name))


def _change(schedule_id: str, paused: bool | None) -> None:
    from runtime.schedules import parse_id

    client = _client()
    action = {None: "delete", True: "pause", False: "resume"}[paused]
    try:
        sid = parse_id(schedule_id)
        if paused is None:
            client.store.delete_schedule(sid)
        else:
            client.store.set_schedule_paused(sid, paused)
    except PlaitError as exc:
        raise refused(
            client.store, f"schedule.{action}", exc, target=f"schedule:{schedule_id}"
        ) from None
    audit.record(
        client.store, f"schedule.{action}", actor=audit.cli_actor(), target=f"schedule:{sid}"
    )
    typer.echo(f"schedule {sid}: {action}d")


@schedules_app.command("pause")
def pause(schedule_id: str) -> None:
    """Stop firing (until resumed)."""
    _change(schedule_id, True)


@schedules_app.command("resume")
def resume(schedule_id: str) -> None:
    """Fire again from now on (fires missed while paused are not started)."""
    _change(schedule_id, False)


@schedules_app.command("delete")
def delete(schedule_id: str) -> None:
    """Delete a schedule (its runs stay)."""
    _change(schedule_id, None)


@schedules_app.command("next")
def next_(
    schedule_id: str,
    count: Annotated[int, typer.Option(help="How many.")] = 10,
) -> None:
    """The next fire times, in the schedule's time zone."""
    from runtime.schedules import next_fires, parse_id

    client = _client()
    try:
        schedule, _ = client.store.get_schedule(parse_id(schedule_id))
    except PlaitError as exc:
        raise fail(str(exc)) from None
    for at in next_fires(schedule, max(1, min(count, 1000))):
        typer.echo(f"{_when(at, schedule.tz)}  ({at.strftime('%Y-%m-%d %H:%M:%S')} UTC)")
