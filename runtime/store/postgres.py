"""The Store contract on PostgreSQL (psycopg 3).

Row locks: a status change takes ``FOR UPDATE`` on the run row; a pass's fence takes ``FOR KEY
SHARE``, which only ``FOR UPDATE`` waits for, so checkpoints never wait on heartbeats. A small
checkpoint (a chain's: one finish, one start, a few events) goes to the server as one statement
of data-modifying CTEs, so it costs one round trip and a commit. Leadership is a session-level
advisory lock, held while its session lives.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from runtime.store import tables
from runtime.store.contract import Leadership, Lease, NewEvent, NodeFinish, NodeStart, StaleWrite
from runtime.store.sql import (
    _EVENT_COLUMNS,
    _START_COLUMNS,
    SqlStore,
    _event_dicts,
    _finish_values,
    _prefixed,
    _start_params,
    _typed,
)
from runtime.store.tables import EventDict

_SMALL_WRITES, _SMALL_EVENTS = 4, 8
"""The largest checkpoint sent as one statement: a chain's step gains most; a big step gains
nothing (PostgreSQL plans 50 CTEs about as slowly as it runs 50 statements) and SQLAlchemy's
compile time grows with the square of the CTEs."""


class PostgresStore(SqlStore):
    _insert = staticmethod(postgresql.insert)

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

    def leader(self, name: str) -> Leadership:
        return _AdvisoryLock(self.engine, zlib.crc32(f"plait:{name}".encode()))


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
def _step_statement(finishes: int, starts: int, events: int) -> sa.Select:
    """One PostgreSQL statement for a fenced checkpoint of this shape.

    ``fence`` takes a ``FOR KEY SHARE`` lock on the run row only while its epoch is the
    pass's; every write reads ``fence``, so none happens unless the lease still holds, and a
    takeover (``FOR UPDATE`` on that row) waits for this transaction or makes ``fence`` empty.
    Each finish is an ``UPDATE`` guarded on ``running`` (together counted in ``finished``),
    each start an ``INSERT`` (its id in ``started_<k>``), each event an ``INSERT``. One row per
    statement and bind parameters only, so SQLAlchemy compiles each shape once."""
    r, nr, ev = tables.run, tables.node_run, tables.event
    fence = (
        sa.select(r.c.id)
        # names no column of node_run or event: SQLAlchemy would take them for a SET value
        .where(
            r.c.id == sa.bindparam("fence_run"),
            r.c.lease_epoch == sa.bindparam("fence_epoch"),
            r.c.lease_owner == sa.bindparam("fence_owner"),
        )
        .with_for_update(read=True, key_share=True)
        .cte("fence")
    )
    held = sa.exists(sa.select(fence.c.id))
    counts = []
    for k in range(finishes):
        finished = (
            sa.update(nr)
            .where(nr.c.id == sa.bindparam(f"f{k}_row_id"), nr.c.status == "running", held)
            .values(_finish_values(f"f{k}_"))
            .returning(nr.c.id)
            .cte(f"finished_{k}")
        )
        counts.append(sa.select(sa.func.count()).select_from(finished).scalar_subquery())
    columns = [
        sa.select(sa.func.count()).select_from(fence).scalar_subquery().label("fenced"),
        sum(counts, sa.literal(0)).label("finished"),
    ]
    for k in range(starts):
        started = (
            sa.insert(nr)
            .from_select(
                list(_START_COLUMNS),
                sa.select(*(_typed(f"s{k}_{c}", c, nr) for c in _START_COLUMNS)).select_from(fence),
            )
            .returning(nr.c.id)
            .cte(f"started_{k}")
        )
        columns.append(sa.select(started.c.id).scalar_subquery().label(f"started_{k}"))
    statement = sa.select(*columns)
    for k in range(events):
        appended = sa.insert(ev).from_select(
            list(_EVENT_COLUMNS),
            sa.select(*(_typed(f"e{k}_{c}", c, ev) for c in _EVENT_COLUMNS)).select_from(fence),
        )
        statement = statement.add_cte(appended.cte(f"appended_{k}"))
    return statement
