"""Retention (``plait gc``): old finished runs go with everything of theirs; blobs another
run still uses, and every queued, running, waiting (and, asked to, failed) run stay."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import sqlalchemy as sa

import runtime as rt
from runtime import codecs, retention, sharing
from runtime.store import tables, values

BIG = "x" * 40_000  # above the inline limit: stored in the blob table


def make_old(client: rt.Client, *runs: rt.Run, days: int = 40) -> None:
    then = tables.utcnow() - dt.timedelta(days=days)
    ids = [r.id for r in runs]
    with client.store.write() as conn:
        conn.execute(
            sa.update(tables.run)
            .where(tables.run.c.id.in_(ids))
            .values(created_at=then, ended_at=then)
        )
        conn.execute(sa.update(tables.blob).values(created_at=then))


def count(client: rt.Client, table: sa.Table, **where: str) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with client.store.read() as conn:
        return conn.execute(query).scalar_one()


def graphs() -> tuple[rt.Graph, rt.Graph, rt.Graph]:
    big = rt.Graph("gc_big")

    @big.node
    def text(tag: str) -> str:
        rt.current().save_document("note", f"doc of {tag}")
        return BIG + tag

    broken = rt.Graph("gc_broken")

    @broken.node
    def boom() -> None:
        raise ValueError("no")

    waits = rt.Graph("gc_waits")
    waits.wait("ask", {"ok": bool})
    return big, broken, waits


def test_gc_deletes_old_finished_runs_and_only_their_blobs(client: rt.Client) -> None:
    big, broken, waits = graphs()
    old = big.run(tag="old").wait(30)
    shared = big.run(tag="shared").wait(30)
    failed = broken.run().wait(30)
    waiting = waits.run().wait(30)
    assert (old.status, failed.status, waiting.status) == ("succeeded", "failed", "waiting")
    sharing.create_link(old.id, client=client)
    make_old(client, old, failed, waiting)
    recent = big.run(tag="shared").wait(30)  # the same value as ``shared``: one blob
    make_old(client, shared)  # old too, but its blob is what ``recent`` holds
    assert count(client, tables.blob) == 2

    kept = retention.collect(
        client.store, retention.Policy(dt.timedelta(days=30), keep_failed=True)
    )
    assert kept.runs == 2 and kept.blobs == 1 and kept.blob_bytes > 40_000
    assert kept.events >= 4 and kept.attempts == 2 and kept.documents == 2
    assert kept.share_links == 1
    remaining = {r.id for r in client.runs(limit=100)}
    assert remaining == {failed.id, waiting.id, recent.id}
    assert count(client, tables.event, run_id=old.id) == 0
    assert count(client, tables.node_run, run_id=shared.id) == 0
    assert recent.output("text") == BIG + "shared", "a blob another run uses stays"

    gone = retention.collect(client.store, retention.Policy(dt.timedelta(days=30)))
    assert gone.runs == 1 and {r.id for r in client.runs()} == {waiting.id, recent.id}
    assert waiting.status == "waiting", "a waiting run is never collected, however old"


def test_storing_a_value_again_renews_its_blob(client: rt.Client) -> None:
    then = tables.utcnow() - dt.timedelta(days=40)
    encoded = codecs.encode(BIG, allow_pickle=False, what="v", key=None)
    with client.store.write() as conn:
        ref = values.put(conn, encoded, 100, client.store._insert)
        conn.execute(sa.update(tables.blob).values(created_at=then))
    with client.store.write() as conn:
        values.put(conn, encoded, 100, client.store._insert)
    with client.store.read() as conn:
        stamp = conn.execute(
            sa.select(tables.blob.c.created_at).where(tables.blob.c.hash == ref["blob"])
        ).scalar_one()
    # a run storing it while gc runs makes it recent, and gc keeps only-recent blobs
    assert tables.utcnow() - stamp < dt.timedelta(minutes=5)


def test_plait_gc_counts_deletes_and_refuses_bad_input(client: rt.Client) -> None:
    big, _, _ = graphs()
    old = big.run(tag="cli").wait(30)
    make_old(client, old)
    env = {"PLAIT_DATABASE_URL": client.settings.resolved_database_url()}

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", "gc", *args],
            env={**os.environ, **env, "PLAIT_HOME": str(client.settings.home)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    bad = plait("--older-than", "a month")
    assert bad.returncode == 1 and "--older-than 'a month': use a number" in bad.stderr
    dry = plait("--older-than", "30d", "--dry-run")
    assert dry.returncode == 0 and "would delete 1 runs" in dry.stdout
    assert count(client, tables.run, id=old.id) == 1
    done = plait("--older-than", "30d")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deleted 1 runs")
    assert count(client, tables.run, id=old.id) == 0
    with client.store.read() as conn:
        actions = list(conn.execute(sa.select(tables.audit_log.c.action)).scalars())
    assert "runs.gc" in actions
