"""``plait gc``: delete old finished runs (``runtime.retention``), once or on a schedule."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from runtime import audit, retention
from runtime.cli_common import configured_store, fail
from runtime.errors import OptionError, PlaitError

if TYPE_CHECKING:
    from runtime.store import Store


def _duration(text: str, option: str) -> dt.timedelta:
    from runtime.sharing import parse_lifetime

    try:
        lifetime = parse_lifetime(text)
    except OptionError:
        lifetime = None
    if lifetime is None:
        raise OptionError(f"{option} {text!r}: use a number and m, h or d (e.g. 30d)")
    return lifetime


def gc(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Delete runs that ended longer ago (e.g. 30d).")
    ],
    keep_failed: Annotated[
        bool, typer.Option("--keep-failed", help="Keep failed runs whatever their age.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option(help="Keep running and collect again after this long (e.g. 1d)."),
    ] = None,
) -> None:
    """Delete finished runs older than --older-than, with their events, attempts, documents,
    share links and the blobs no other run uses. Queued, running and waiting runs stay."""

    try:
        policy = retention.Policy(_duration(older_than, "--older-than"), keep_failed)
        period = _duration(every, "--every") if every is not None else None
        store = configured_store()
    except PlaitError as exc:
        raise fail(str(exc)) from None
    if period is None:
        _collect_once(store, policy, dry_run)
        return
    # one collector per database at a time, however many were started
    lock = store.leader("retention")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        if lock.hold():
            _collect_once(store, policy, dry_run)
        stop.wait(period.total_seconds())
    lock.release()


def _collect_once(store: Store, policy: retention.Policy, dry_run: bool) -> None:
    done = retention.collect(store, policy, dry_run=dry_run)
    if dry_run:
        typer.echo(f"would delete {done.runs} runs")
        return
    typer.echo(
        f"deleted {done.runs} runs, {done.events} events, {done.attempts} attempts, "
        f"{done.documents} documents, {done.share_links} share links, "
        f"{done.blobs} blobs ({done.blob_bytes} bytes)"
    )
    if done.runs:
        audit.record(
            store,
            "runs.gc",
            actor=audit.cli_actor(),
            detail={"runs": done.runs, "older_than_s": policy.older_than.total_seconds()},
        )
