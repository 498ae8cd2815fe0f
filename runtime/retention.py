"""Retention: delete finished runs older than a cutoff, with their attempts, events,
documents, share links and the blobs no other run references.

Work goes in batches of a few hundred runs, each batch in short transactions of its own, so
running work never waits on a long delete; a queued, running or waiting run is never
touched, however old."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from runtime.store.contract import Purged, Store
from runtime.store.tables import utcnow

log = logging.getLogger("plait.retention")

ALL = 1_000_000_000


@dataclass(frozen=True)
class Policy:
    """What to delete."""

    older_than: dt.timedelta
    """Runs that ended longer ago than this."""
    keep_failed: bool = False
    """Keep failed runs (to look into them) whatever their age."""
    batch: int = 500
    """Runs per batch: the size of each delete transaction."""


def collect(
    store: Store,
    policy: Policy,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    dry_run: bool = False,
) -> Purged:
    """Delete what ``policy`` says, batch after batch, until nothing is left; what was
    deleted. ``dry_run``: count the runs only, delete nothing."""
    before = clock() - policy.older_than
    total = Purged()
    if dry_run:
        total.runs = len(store.expired_runs(before, keep_failed=policy.keep_failed, limit=ALL))
        return total
    while ids := store.expired_runs(before, keep_failed=policy.keep_failed, limit=policy.batch):
        done = store.purge_runs(ids, before=before)
        total.add(done)
        log.info("retention: deleted %d runs (%d events)", done.runs, done.events)
        if done.runs == 0:  # every listed run changed meanwhile (retried): stop, not spin
            break
    return total
