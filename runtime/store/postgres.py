"""The Store contract on PostgreSQL (psycopg 3).

Row locks: a status change takes ``FOR UPDATE`` on the run row; a pass's fence takes ``FOR KEY
SHARE``, which only ``FOR UPDATE`` waits for, so checkpoints never wait on heartbeats. A small
checkpoint (a chain's: one finish, one start, a few events) goes to the server as one statement
of data-modifying CTEs, so it costs one round trip and a commit; so does the end of a run that
succeeded (its last checkpoint, its status, its lease released), and a run's status read is one
prepared statement. Leadership is a session-level advisory lock, held while its session lives
(a lease row behind a transaction pooler).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import socket
import uuid
import weakref
import zlib
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from runtime import codecs
from runtime.errors import NotFound, StoreUnavailable
from runtime.statuses import NODE_FINISHABLE, RUN_HOLDING_A_SLOT
from runtime.store import tables, values
from runtime.store.contract import (
    Acquired,
    GiveUp,
    Leadership,
    Lease,
    NewEvent,
    NodeFinish,
    NodeStart,
    Pooler,
    StaleWrite,
    Takeover,
)
from runtime.store.sql import (
    _EVENT_COLUMNS,
    _START_COLUMNS,
    SqlStore,
    _event_dicts,
    _finish_values,
    _prefixed,
    _start_params,
    _typed,
    new_run_id,
)
from runtime.store.tables import EventDict, Run, WorkflowVersion, from_row, utcnow

_NEXT_SEQ = "SELECT coalesce(max(seq), 0) + 1 FROM event WHERE run_id = %s"
_RUN_COLUMNS = tuple(c.name for c in tables.run.columns)
# columns named, not ``*``: a prepared ``*`` fails once a migration adds a column, and the
# names are known without asking the cursor (its description costs as much as the read)
_GET_RUN = f"SELECT {', '.join(_RUN_COLUMNS)} FROM run WHERE id = %s"
_CREATE_RUN = """
WITH created AS (
    INSERT INTO run (id, workflow_id, version_id, status, inputs, trigger, trigger_ref, owner,
                     created_at, cancel_requested, lease_epoch, targets, priority)
    VALUES (%(id)s, %(workflow_id)s, %(version_id)s, %(status)s, %(inputs)s::json, %(trigger)s,
            %(trigger_ref)s, %(owner)s, %(created_at)s, %(cancel_requested)s, %(lease_epoch)s,
            %(targets)s::json, %(priority)s)
    RETURNING id
)
INSERT INTO event (run_id, seq, type, node, data, created_at)
SELECT id, 1, 'run.queued', NULL, %(data)s::json, %(created_at)s FROM created
"""
_FIRST_PASS_TEMPLATE = """
WITH taken AS (
    UPDATE run SET status = 'running', started_at = %(now)s, lease_owner = %(owner)s,
                   lease_until = %(until)s, lease_epoch = lease_epoch + 1, error = NULL
    WHERE id = %(id)s AND status = 'queued' AND started_at IS NULL AND replay_of IS NULL
      AND (lease_owner IS NULL OR lease_owner = %(owner)s) {unlimited}
    RETURNING *
), announced AS (
    INSERT INTO event (run_id, seq, type, node, data, created_at)
    SELECT id, (SELECT coalesce(max(seq), 0) + 1 FROM event WHERE run_id = %(id)s),
           'run.running', NULL, %(data)s::json, %(now)s
    FROM taken
    RETURNING seq
)
SELECT taken.*, (SELECT seq FROM announced) AS event_seq FROM taken
"""
_FIRST_PASS = _FIRST_PASS_TEMPLATE.format(
    unlimited="""
      AND NOT EXISTS (SELECT 1 FROM workflow w
                      WHERE w.id = run.workflow_id AND w.max_concurrent_runs IS NOT NULL)"""
)
_ADMITTED_FIRST_PASS = _FIRST_PASS_TEMPLATE.format(unlimited="")
_LOCK_QUEUED = """
SELECT workflow_id, priority, created_at FROM run
WHERE id = %s AND status = 'queued' AND started_at IS NULL AND replay_of IS NULL
  AND (lease_owner IS NULL OR lease_owner = %s)
FOR UPDATE
"""
_LOCK_LIMIT = "SELECT max_concurrent_runs FROM workflow WHERE id = %s FOR UPDATE"
_TAKEN = """
SELECT count(*) FROM run
WHERE workflow_id = %(workflow_id)s
  AND (status IN ({holding})
       OR (status = 'queued' AND id <> %(id)s
           AND (priority > %(priority)s
                OR (priority = %(priority)s
                    AND (created_at < %(created_at)s
                         OR (created_at = %(created_at)s AND id < %(id)s))))))
""".format(holding=", ".join(f"'{s}'" for s in sorted(RUN_HOLDING_A_SLOT)))
"""A run's first pass in one statement: the update locks the run row as a takeover's
``FOR UPDATE`` would wait for; a run with no start has no attempt rows to read. A run of a
limited workflow is admitted by ``_admit_first_pass``. A replay's first pass reads the
checkpoints it reuses: it goes the whole way (``SqlStore.acquire``)."""
_SMALL_WRITES, _SMALL_EVENTS = 4, 8
"""The largest checkpoint sent as one statement: a chain's step gains most; a big step gains
nothing (PostgreSQL plans 50 CTEs about as slowly as it runs 50 statements) and SQLAlchemy's
compile time grows with the square of the CTEs."""


_NOT_A_FIRST_PASS = object()


def _first_pass_params(run_id: str, owner: str, now: dt.datetime, seconds: float) -> dict[str, Any]:
    """The parameters of ``_FIRST_PASS`` and ``_ADMITTED_FIRST_PASS``."""
    return {
        "id": run_id,
        "owner": owner,
        "now": now,
        "until": now + dt.timedelta(seconds=seconds),
        "data": Jsonb({"status": "running"}),
    }


class PostgresStore(SqlStore):
    _insert = staticmethod(postgresql.insert)

    def __init__(
        self, url: str, secret_key: bytes | None = None, *, pooler: Pooler = "none"
    ) -> None:
        super().__init__(url, secret_key, pooler=pooler)
        if pooler == "transaction":
            self.prepare = False
        self.dsn = self.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        """libpq's form of the URL, for connections that bypass SQLAlchemy."""
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane] = (
            weakref.WeakKeyDictionary()
        )

    prepare: bool | None = True
    """Whether hot statements are prepared on the server (``None``: psycopg decides; turn it
    off behind a pooler that cannot keep prepared statements)."""

    def _for_update(self, query: sa.Select) -> sa.Select:
        return query.with_for_update()

    def _for_key_share(self, query: sa.Select) -> sa.Select:
        return query.with_for_update(read=True, key_share=True)

    def _checkpoint(
        self,
        conn: sa.Connection,
        lease: Lease,
        finishes: Sequence[NodeFinish],
        starts: Sequence[NodeStart],
        events: Sequence[NewEvent],
        next_seq: int | None,
        inline_limit: int,
    ) -> list[EventDict] | None:
        writes = len(finishes) + len(starts)
        if not (writes or events) or writes > _SMALL_WRITES or len(events) > _SMALL_EVENTS:
            return None
        if any(start.output is not None for start in starts):
            return None  # a parked attempt's output takes the general path
        if any(f.cache is not None or f.cached_from is not None for f in finishes):
            return None  # a cached node's end writes more rows: the general path
        rows = self._event_rows(conn, lease.run_id, events, next_seq)
        params: dict[str, Any] = {
            "fence_run": lease.run_id,
            "fence_epoch": lease.epoch,
            "fence_owner": lease.owner,
        }
        for k, finish in enumerate(finishes):
            params |= _prefixed(f"f{k}_", self._finish_params(conn, finish, inline_limit))
        for k, start in enumerate(starts):
            params |= _prefixed(f"s{k}_", _start_params(lease.run_id, start))
        for k, row in enumerate(rows):
            params |= _prefixed(f"e{k}_", row)
        statement = _step_statement(len(finishes), len(starts), len(rows))
        outcome = conn.execute(statement, params).one()
        if not outcome.fenced:
            raise StaleWrite(f"run {lease.run_id} is no longer held under epoch {lease.epoch}")
        if outcome.finished != len(finishes):
            raise StaleWrite(f"run {lease.run_id}: an attempt it finishes is no longer running")
        for k, start in enumerate(starts):
            start.row_id = outcome[2 + k]
        return _event_dicts(rows)

    def create_run(
        self,
        version: WorkflowVersion,
        inputs: dict[str, codecs.Encoded],
        *,
        trigger: str,
        owner: str | None,
        inline_limit: int,
        trigger_ref: str | None = None,
        targets: list[str] | None = None,
        start_at: dt.datetime | None = None,
        priority: int = 0,
        run_id: str | None = None,
    ) -> tuple[Run, list[EventDict]]:
        """A run whose inputs all stay inline is one prepared statement (the run and its
        ``run.queued`` event), sent on its own."""
        # delayed runs, blobs, and pickles (whose key id is recorded) take the general path
        if start_at is not None or any(
            len(v.data) > inline_limit or v.codec == codecs.PICKLE for v in inputs.values()
        ):
            return super().create_run(
                version,
                inputs,
                trigger=trigger,
                owner=owner,
                inline_limit=inline_limit,
                trigger_ref=trigger_ref,
                targets=targets,
                start_at=start_at,
                priority=priority,
                run_id=run_id,
            )
        assert version.id is not None, "a stored version has an id"
        now = utcnow()
        run_id = run_id or new_run_id()
        fields: dict[str, Any] = {
            "id": run_id,
            "workflow_id": version.workflow_id,
            "version_id": version.id,
            "status": "queued",
            "inputs": {k: values.to_json(values.inline(v)) for k, v in inputs.items()},
            "trigger": trigger,
            "trigger_ref": trigger_ref,
            "owner": owner,
            "created_at": now,
            "cancel_requested": False,
            "lease_epoch": 0,
            "targets": targets,
            "priority": priority,
        }
        data = {"status": "queued"}
        with _raw_available(), contextlib.closing(self.engine.raw_connection()) as pooled:
            conn: Any = pooled.dbapi_connection
            conn.autocommit = True
            try:
                conn.execute(
                    _CREATE_RUN,
                    {
                        **fields,
                        "inputs": Jsonb(fields["inputs"]),
                        "targets": None if targets is None else Jsonb(targets),
                        "data": Jsonb(data),
                    },
                    prepare=self.prepare,
                )
            finally:
                conn.autocommit = False
        event: EventDict = {
            "run_id": run_id,
            "seq": 1,
            "type": "run.queued",
            "node": None,
            "data": data,
            "at": now.timestamp(),
        }
        absent = dict.fromkeys(
            (
                "error",
                "started_at",
                "ended_at",
                "lease_owner",
                "lease_until",
                "retry_floor",
                "start_at",
            )
        )
        return from_row(Run, {**absent, **fields}), [event]

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """One read on a pooled connection's psycopg connection, outside a transaction (a
        single statement reads one snapshot by itself): its rows, as tuples."""
        with _raw_available(), contextlib.closing(self.engine.raw_connection()) as pooled:
            conn: Any = pooled.dbapi_connection
            conn.autocommit = True
            try:
                return conn.execute(sql, params, prepare=self.prepare).fetchall()
            finally:
                conn.autocommit = False

    def get_run(self, run_id: str) -> Run:
        """One prepared statement: every ``Run.status`` and ``Run.wait`` reads it."""
        rows = self._fetch(_GET_RUN, (run_id,))
        if not rows:
            raise NotFound(f"no run with id {run_id!r}")
        return from_row(Run, dict(zip(_RUN_COLUMNS, rows[0], strict=True)))

    def acquire(
        self,
        run_id: str,
        owner: str,
        seconds: float,
        *,
        takeover: Takeover | None = None,
        executing: Collection[int] = (),
    ) -> Acquired | None:
        """A run's first pass (``queued``, never started, nobody holding it) is taken in one
        statement on its own: it has no checkpoints to read. Anything else goes the whole
        way (``SqlStore.acquire``)."""
        now = utcnow()
        with _raw_available(), contextlib.closing(self.engine.raw_connection()) as pooled:
            conn: Any = pooled.dbapi_connection
            conn.autocommit = True
            try:
                cursor = conn.execute(
                    _FIRST_PASS,
                    _first_pass_params(run_id, owner, now, seconds),
                    prepare=self.prepare,
                )
                row = cursor.fetchone()
                names = [c.name for c in cursor.description]
            finally:
                conn.autocommit = False
        if row is None:
            admitted = self._admit_first_pass(run_id, owner, seconds)
            if admitted is not _NOT_A_FIRST_PASS:
                return admitted  # type: ignore[return-value]
            return super().acquire(run_id, owner, seconds, takeover=takeover, executing=executing)
        return self._first_pass_taken(run_id, owner, names, row, now)

    def _admit_first_pass(self, run_id: str, owner: str, seconds: float) -> object:
        """The first pass of a queued run of a limited workflow, in one transaction of four
        statements: lock the run (as ``SqlStore.acquire`` does first), lock the workflow row
        (admissions of its runs queue here), count what is running, waiting or queued ahead
        (a statement after the lock, so it sees every admission committed before), take it.
        ``None``: refused (no slot for it; nothing written). ``_NOT_A_FIRST_PASS``: not such
        a run (anything else ``SqlStore.acquire`` handles)."""
        now = utcnow()
        with _raw_available(), contextlib.closing(self.engine.raw_connection()) as pooled:
            conn: Any = pooled.dbapi_connection
            try:
                run = conn.execute(_LOCK_QUEUED, (run_id, owner), prepare=self.prepare).fetchone()
                limit = None
                if run is not None:
                    limit = conn.execute(_LOCK_LIMIT, (run[0],), prepare=self.prepare).fetchone()[0]
                if limit is None:
                    conn.rollback()
                    return _NOT_A_FIRST_PASS
                taken = conn.execute(
                    _TAKEN,
                    {"workflow_id": run[0], "id": run_id, "priority": run[1], "created_at": run[2]},
                    prepare=self.prepare,
                ).fetchone()[0]
                if taken >= limit:
                    conn.rollback()
                    return None
                cursor = conn.execute(
                    _ADMITTED_FIRST_PASS,
                    _first_pass_params(run_id, owner, now, seconds),
                    prepare=self.prepare,
                )
                row = cursor.fetchone()
                names = [c.name for c in cursor.description]
                if row is None:  # cannot be while the run's lock is held; be safe anyway
                    conn.rollback()
                    return _NOT_A_FIRST_PASS
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return self._first_pass_taken(run_id, owner, names, row, now)

    def _first_pass_taken(
        self, run_id: str, owner: str, names: list[str], row: Any, now: dt.datetime
    ) -> Acquired:
        found = dict(zip(names, row, strict=True))
        seq = found.pop("event_seq")
        run = from_row(Run, found)
        event: EventDict = {
            "run_id": run_id,
            "seq": seq,
            "type": "run.running",
            "node": None,
            "data": {"status": "running"},
            "at": now.timestamp(),
        }
        return Acquired(run, Lease(run_id, owner, run.lease_epoch), [], [event], True)

    def step(
        self,
        lease: Lease,
        *,
        finishes: Sequence[NodeFinish] = (),
        starts: Sequence[NodeStart] = (),
        give_up: Sequence[GiveUp] = (),
        interrupt: Sequence[int] = (),
        events: Sequence[NewEvent] = (),
        next_seq: int | None = None,
        inline_limit: int = 16_384,
    ) -> list[EventDict]:
        """A small checkpoint (a chain's: one finish, one start, its events; every output
        small enough to stay inline) goes straight to psycopg as one prepared statement:
        SQLAlchemy's statement execution costs about as much as the commit itself."""
        if not _lean(finishes, starts, give_up, interrupt, events, inline_limit):
            return super().step(
                lease,
                finishes=finishes,
                starts=starts,
                give_up=give_up,
                interrupt=interrupt,
                events=events,
                next_seq=next_seq,
                inline_limit=inline_limit,
            )
        with _raw_available(), contextlib.closing(self.engine.raw_connection()) as pooled:
            conn: Any = pooled.dbapi_connection  # the psycopg connection itself, not the proxy
            for numbered in (next_seq, None):  # None: count again after a clash
                if numbered is None and events:
                    found = conn.execute(
                        _NEXT_SEQ, (lease.run_id,), prepare=self.prepare
                    ).fetchone()
                    conn.commit()  # a read: a number taken meanwhile clashes and is retried
                    numbered = found[0]
                plan = _Checkpoint(lease, finishes, starts, events, numbered)
                conn.autocommit = plan.alone
                try:
                    row = conn.execute(plan.sql, plan.params, prepare=self.prepare).fetchone()
                    written = plan.outcome(row)
                    if not plan.alone:
                        conn.commit()
                    return written
                except psycopg.errors.UniqueViolation:
                    conn.rollback()
                except BaseException:
                    conn.rollback()
                    raise
                finally:
                    conn.autocommit = False
        raise StaleWrite(f"run {lease.run_id} changed under this writer (event numbers)")

    async def astep(
        self,
        lease: Lease,
        *,
        finishes: Sequence[NodeFinish] = (),
        starts: Sequence[NodeStart] = (),
        give_up: Sequence[GiveUp] = (),
        interrupt: Sequence[int] = (),
        events: Sequence[NewEvent] = (),
        next_seq: int | None = None,
        inline_limit: int = 16_384,
    ) -> list[EventDict]:
        """``step`` on an async connection of the caller's event loop when it is small: the
        pass need not hand the write to a thread and wait to be woken."""
        if not _lean(finishes, starts, give_up, interrupt, events, inline_limit):
            return await super().astep(
                lease,
                finishes=finishes,
                starts=starts,
                give_up=give_up,
                interrupt=interrupt,
                events=events,
                next_seq=next_seq,
                inline_limit=inline_limit,
            )
        lane = self._lanes.get(asyncio.get_running_loop())
        if lane is None:
            lane = self._lanes[asyncio.get_running_loop()] = _Lane(self.dsn)
        with _raw_available():
            async with lane.connection() as conn:
                for numbered in (next_seq, None):
                    if numbered is None and events:
                        found = await (
                            await conn.execute(_NEXT_SEQ, (lease.run_id,), prepare=self.prepare)
                        ).fetchone()
                        numbered = found[0]  # type: ignore[index]
                    plan = _Checkpoint(lease, finishes, starts, events, numbered)
                    try:
                        if plan.alone:
                            cursor = await conn.execute(plan.sql, plan.params, prepare=self.prepare)
                            return plan.outcome(await cursor.fetchone())
                        async with conn.transaction():
                            cursor = await conn.execute(plan.sql, plan.params, prepare=self.prepare)
                            return plan.outcome(await cursor.fetchone())
                    except psycopg.errors.UniqueViolation:
                        continue
        raise StaleWrite(f"run {lease.run_id} changed under this writer (event numbers)")

    async def afinish_run(
        self, lease: Lease, status: str, **changes: Any
    ) -> tuple[list[EventDict], bool]:
        """A run that succeeded, with its last checkpoint small, ends in one statement on an
        async connection of the caller's event loop (``_step_statement`` with ``ends``); any
        other end, or one whose fence does not hold (a child run, a lease lost: the general
        path raises ``StaleWrite`` then), goes the whole way (``SqlStore.finish_run``)."""
        finishes: Sequence[NodeFinish] = changes.get("finishes", ())
        events = [*changes.get("node_events", ()), *changes.get("events", ())]
        lean = (
            status == "succeeded"
            and not changes.get("expect_waiting")
            and changes.get("wake_at") is None
            and len(finishes) <= _SMALL_WRITES
            and len(events) <= _SMALL_EVENTS
            and _inline(finishes, changes.get("inline_limit", 16_384))
        )
        if lean:
            lane = self._lanes.get(asyncio.get_running_loop())
            if lane is None:
                lane = self._lanes[asyncio.get_running_loop()] = _Lane(self.dsn)
            end = (status, changes.get("error"))
            with _raw_available():
                async with lane.connection() as conn:
                    for numbered in (changes.get("next_seq"), None):
                        if numbered is None and events:
                            found = await (
                                await conn.execute(_NEXT_SEQ, (lease.run_id,), prepare=self.prepare)
                            ).fetchone()
                            numbered = found[0]  # type: ignore[index]
                        plan = _Checkpoint(lease, finishes, (), events, numbered, end)
                        try:
                            if plan.alone:
                                cursor = await conn.execute(
                                    plan.sql, plan.params, prepare=self.prepare
                                )
                                row = await cursor.fetchone()
                                if row[0]:  # type: ignore[index]
                                    return plan.outcome(row), True
                            else:
                                async with conn.transaction():
                                    cursor = await conn.execute(
                                        plan.sql, plan.params, prepare=self.prepare
                                    )
                                    row = await cursor.fetchone()
                                    if row[0]:  # type: ignore[index]
                                        return plan.outcome(row), True
                            break  # not fenced: nothing was written
                        except psycopg.errors.UniqueViolation:
                            continue
        return await super().afinish_run(lease, status, **changes)

    def leader(self, name: str) -> Leadership:
        if self.pooler == "transaction":  # a session-level lock would outlive its session
            return _LeaseRow(self.engine, name)
        return _AdvisoryLock(self.engine, zlib.crc32(f"plait:{name}".encode()))


class _LeaseRow(Leadership):
    """A row of ``leader`` naming its holder until a time the database's clock sets: held
    while ``hold`` renews it at least every ``ttl`` seconds (one statement, one transaction,
    so any pooler can carry it). A holder that stops renewing, dead or frozen, loses it once
    ``ttl`` has passed."""

    def __init__(self, engine: sa.Engine, name: str, ttl: float = 30.0) -> None:
        self.engine = engine
        self.name = name
        self.ttl = ttl
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def hold(self) -> bool:
        with self.engine.begin() as conn:
            row = conn.execute(_HOLD, {"n": self.name, "me": self.holder, "ttl": self.ttl})
            return row.first() is not None

    def release(self) -> None:
        with contextlib.suppress(Exception), self.engine.begin() as conn:
            conn.execute(
                sa.delete(tables.leader).where(
                    tables.leader.c.name == self.name, tables.leader.c.holder == self.holder
                )
            )


_HOLD = sa.text(
    """
    INSERT INTO leader (name, holder, until)
    VALUES (:n, :me, now() + make_interval(secs => :ttl))
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
    WHERE leader.holder = excluded.holder OR leader.until < now()
    RETURNING holder
    """
)


class _AdvisoryLock(Leadership):
    """A session-level advisory lock on a connection of its own: held while that session
    lives (a dead process's session ends with it, and the lock with the session)."""

    def __init__(self, engine: sa.Engine, key: int) -> None:
        self.engine = engine
        self.key = key
        self.conn: sa.Connection | None = None

    def hold(self) -> bool:
        if self.conn is None:
            conn = self.engine.connect()
            held = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}
            ).scalar()
            conn.commit()
            if not held:
                conn.close()
                return False
            self.conn = conn
            return True
        self.conn.execute(sa.text("SELECT 1"))  # the session (and the lock) still lives
        self.conn.commit()
        return True

    def release(self) -> None:
        if self.conn is not None:
            # closing hands the session back to the pool, lock and all: unlock, or drop it
            try:
                self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self.conn.commit()
            except Exception:
                with contextlib.suppress(Exception):
                    self.conn.invalidate()
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


@functools.lru_cache(maxsize=256)
def _step_statement(finishes: int, starts: int, events: int, ends: bool = False) -> sa.Select:
    """One PostgreSQL statement for a fenced checkpoint of this shape.

    ``fence`` takes a ``FOR KEY SHARE`` lock on the run row only while its epoch is the
    pass's; every write reads ``fence``, so none happens unless the lease still holds, and a
    takeover (``FOR UPDATE`` on that row) waits for this transaction or makes ``fence`` empty.
    Each finish is an ``UPDATE`` guarded on ``running`` or ``sleeping`` (together counted in
    ``finished``), each start an ``INSERT`` (its id in ``started_<k>``), each event an
    ``INSERT``. With one finish, the inserts read the finish's result instead of ``fence``:
    then the statement does everything or nothing by itself, and needs no transaction around
    it. One row per statement and bind parameters only, so SQLAlchemy compiles each shape once.
    ``ends``: the pass's end too (``finish_run`` of a run that succeeded): ``fence`` then
    takes the run row ``FOR UPDATE``, as the general path does, holds only for a run that is
    no child run (a child's end completes its parent's node: the general path), and ``ended``
    sets the run's end and releases its lease, reading the same source as the inserts."""
    r, nr, ev = tables.run, tables.node_run, tables.event
    held_by = [
        # names no column of node_run or event: SQLAlchemy would take them for a SET value
        r.c.id == sa.bindparam("fence_run"),
        r.c.lease_epoch == sa.bindparam("fence_epoch"),
        r.c.lease_owner == sa.bindparam("fence_owner"),
    ]
    if ends:
        locked = sa.select(r.c.id).where(*held_by, r.c.parent_run_id.is_(None)).with_for_update()
    else:
        locked = sa.select(r.c.id).where(*held_by).with_for_update(read=True, key_share=True)
    fence = locked.cte("fence")
    held = sa.exists(sa.select(fence.c.id))
    # no IN: an expanding list would not survive being compiled to psycopg's text
    finishable = sa.or_(*(nr.c.status == status for status in sorted(NODE_FINISHABLE)))
    counts = []
    source: Any = fence
    for k in range(finishes):
        finished = (
            sa.update(nr)
            .where(nr.c.id == sa.bindparam(f"f{k}_row_id"), finishable, held)
            .values(_finish_values(f"f{k}_"))
            .returning(nr.c.id)
            .cte(f"finished_{k}")
        )
        counts.append(sa.select(sa.func.count()).select_from(finished).scalar_subquery())
        if finishes == 1:
            source = finished
    columns = [
        sa.select(sa.func.count()).select_from(fence).scalar_subquery().label("fenced"),
        sum(counts, sa.literal(0)).label("finished"),
    ]
    for k in range(starts):
        started = (
            sa.insert(nr)
            .from_select(
                list(_START_COLUMNS),
                sa.select(*(_typed(f"s{k}_{c}", c, nr) for c in _START_COLUMNS)).select_from(
                    source
                ),
            )
            .returning(nr.c.id)
            .cte(f"started_{k}")
        )
        columns.append(sa.select(started.c.id).scalar_subquery().label(f"started_{k}"))
    if ends:
        ended = (
            sa.update(r)
            .where(r.c.id == sa.bindparam("fence_run"), sa.exists(sa.select(source.c.id)))
            .values(
                status=sa.bindparam("end_status"),
                error=sa.bindparam("end_error", type_=sa.String()),
                ended_at=sa.bindparam("end_at", type_=tables.UTCDateTime()),
                lease_owner=None,
                lease_until=None,
                wake_at=None,
            )
            .returning(r.c.id)
            .cte("ended")
        )
        columns.append(
            sa.select(sa.func.count()).select_from(ended).scalar_subquery().label("ended")
        )
    statement = sa.select(*columns)
    for k in range(events):
        appended = sa.insert(ev).from_select(
            list(_EVENT_COLUMNS),
            sa.select(*(_typed(f"e{k}_{c}", c, ev) for c in _EVENT_COLUMNS)).select_from(source),
        )
        statement = statement.add_cte(appended.cte(f"appended_{k}"))
    return statement


def _lean(
    finishes: Sequence[NodeFinish],
    starts: Sequence[NodeStart],
    give_up: Sequence[GiveUp],
    interrupt: Sequence[int],
    events: Sequence[NewEvent],
    inline_limit: int,
) -> bool:
    """Whether a checkpoint fits one prepared statement (outputs inline, nothing else)."""
    return (
        not (give_up or interrupt)
        and 0 < len(finishes) + len(starts) <= _SMALL_WRITES
        and len(events) <= _SMALL_EVENTS
        and all(start.output is None for start in starts)
        and _inline(finishes, inline_limit)
    )


def _inline(finishes: Sequence[NodeFinish], inline_limit: int) -> bool:
    """Whether these ends write only their rows: no cache entries, every output inline."""
    return all(f.cache is None and f.cached_from is None for f in finishes) and all(
        # a pickle takes the general path, which records its key's id
        f.output is None or (len(f.output.data) <= inline_limit and f.output.codec != codecs.PICKLE)
        for f in finishes
    )


class _Checkpoint:
    """One small checkpoint as psycopg's SQL text and parameters, and what its one row of
    answer means."""

    def __init__(
        self,
        lease: Lease,
        finishes: Sequence[NodeFinish],
        starts: Sequence[NodeStart],
        events: Sequence[NewEvent],
        next_seq: int | None,
        end: tuple[str, str | None] | None = None,
    ) -> None:
        self.lease, self.finishes, self.starts = lease, finishes, starts
        self.end = end
        """The run's end it writes too (``finish_run``): its status and error."""
        self.alone = len(finishes) <= 1
        """All or nothing by itself (its inserts read the finish's result): sent without a
        transaction around it, it costs one round trip."""
        now = utcnow()
        self.rows = [
            {
                "run_id": lease.run_id,
                "seq": (next_seq or 0) + i,
                "type": e.type,
                "node": e.node,
                "data": e.data,
                "created_at": now,
            }
            for i, e in enumerate(events)
        ]
        self.sql, fixed = _lean_statement(
            len(finishes), len(starts), len(self.rows), end is not None
        )
        params: dict[str, Any] = {
            **fixed,
            "fence_run": lease.run_id,
            "fence_epoch": lease.epoch,
            "fence_owner": lease.owner,
        }
        if end is not None:
            params |= {"end_status": end[0], "end_error": end[1], "end_at": now}
        for k, finish in enumerate(finishes):
            output = finish.output
            params |= {
                f"f{k}_row_id": finish.row_id,
                f"f{k}_status": finish.status,
                f"f{k}_ended_at": finish.ended_at,
                f"f{k}_error_type": finish.error_type,
                f"f{k}_error_message": finish.error_message,
                f"f{k}_traceback": finish.traceback,
                f"f{k}_logs": finish.logs,
                f"f{k}_will_retry": finish.will_retry,
                f"f{k}_retry_at": finish.retry_at,
                f"f{k}_keep_lease": finish.keep_lease,
                f"f{k}_output_codec": None if output is None else output.codec,
                f"f{k}_output_inline": None if output is None else output.data,
                f"f{k}_output_blob": None,
                f"f{k}_output_size": None if output is None else len(output.data),
            }
        for k, start in enumerate(starts):
            params |= _prefixed(f"s{k}_", _start_params(lease.run_id, start))
        for k, row in enumerate(self.rows):
            params |= _prefixed(f"e{k}_", {**row, "data": Jsonb(row["data"])})
        self.params = params

    def outcome(self, row: Any) -> list[EventDict]:
        """The events written, the starts given their ids; ``StaleWrite`` when the fence or
        a finish did not hold (then nothing was written)."""
        lease = self.lease
        if not row[0]:
            raise StaleWrite(f"run {lease.run_id} is no longer held under epoch {lease.epoch}")
        if row[1] != len(self.finishes):
            raise StaleWrite(f"run {lease.run_id}: an attempt it finishes is no longer running")
        for k, start in enumerate(self.starts):
            start.row_id = row[2 + k]
        return _event_dicts(self.rows)


class _Lane:
    """A few autocommit connections of one event loop, for the checkpoints its passes write
    at the same time."""

    SIZE = 4

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.idle: list[psycopg.AsyncConnection] = []
        self.slots = asyncio.Semaphore(self.SIZE)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        async with self.slots:
            conn = self.idle.pop() if self.idle else None
            if conn is None or conn.closed:
                conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
            try:
                yield conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                await conn.close()  # broken: the next checkpoint connects afresh
                raise
            self.idle.append(conn)


@functools.lru_cache(maxsize=256)
def _lean_statement(
    finishes: int, starts: int, events: int, ends: bool = False
) -> tuple[str, dict[str, Any]]:
    """``_step_statement`` as psycopg's SQL text, with the parameters SQLAlchemy put in it
    itself (literals it made bind parameters)."""
    compiled = _step_statement(finishes, starts, events, ends).compile(dialect=_PSYCOPG)
    ours = ("fence_", "end_", *(f"f{k}_" for k in range(finishes)))
    ours += tuple(f"s{k}_" for k in range(starts))
    ours += tuple(f"e{k}_" for k in range(events))
    fixed = {k: v for k, v in compiled.params.items() if not k.startswith(ours)}
    return str(compiled), fixed


_PSYCOPG = psycopg_dialect.dialect()


@contextlib.contextmanager
def _raw_available() -> Iterator[None]:
    """psycopg's "not now" errors as ``StoreUnavailable`` (as ``sql._available`` does for
    SQLAlchemy's)."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StoreUnavailable(f"the database is unavailable: {exc}") from exc
    except sa.exc.DBAPIError as exc:  # raised by the pool while it connects
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            raise StoreUnavailable(f"the database is unavailable: {exc.orig}") from exc
        raise
