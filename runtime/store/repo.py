"""Repository: every read and write the runtime makes, one function per question or change.

Write transactions that change a run's status first lock the run row (``FOR UPDATE`` on
PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``), so a resume or cancel from one
process and the engine's pass in another never interleave.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from runtime import codecs
from runtime.errors import NotFound, RunStateError
from runtime.store import db, tables, values
from runtime.store.tables import EventDict, NodeRun, Run, Workflow, WorkflowVersion, utcnow


@dataclass
class NewEvent:
    """An event to append; ``seq`` is assigned in the transaction that writes it."""

    type: str
    node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeStart:
    """A node attempt row to insert (``running``, ``waiting``, ``skipped`` or ``cancelled``)."""

    node: str
    attempt: int
    status: str
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    error_message: str | None = None
    row_id: int | None = None
    """Filled in after the insert."""


@dataclass
class NodeFinish:
    """The end of a ``running`` attempt. Applied only if the row is still ``running``:
    otherwise another process took the run over and this one must stop."""

    row_id: int
    status: str
    ended_at: dt.datetime
    output: codecs.Encoded | None = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    logs: str | None = None
    will_retry: bool = False


class StaleWrite(Exception):
    """A guarded write matched no row: the state changed under this writer."""


_LAST_SEQ = sa.select(sa.func.max(tables.event.c.seq)).where(
    tables.event.c.run_id == sa.bindparam("run_id")
)
_FINISH_COLUMNS = (
    "status",
    "ended_at",
    "error_type",
    "error_message",
    "traceback",
    "logs",
    "will_retry",
    "output_codec",
    "output_inline",
    "output_blob",
    "output_size",
)
_START_COLUMNS = (
    "run_id",
    "node",
    "attempt",
    "status",
    "started_at",
    "ended_at",
    "error_message",
    "will_retry",
)
_EVENT_COLUMNS = ("run_id", "seq", "type", "node", "data", "created_at")

_FINISH = (
    sa.update(tables.node_run)
    .where(tables.node_run.c.id == sa.bindparam("row_id"), tables.node_run.c.status == "running")
    .values({c: sa.bindparam(c) for c in _FINISH_COLUMNS})
)
_START = (
    sa.insert(tables.node_run)
    .values({c: sa.bindparam(c) for c in _START_COLUMNS})
    .returning(tables.node_run.c.id)
)


def _finish_params(conn: sa.Connection, finish: NodeFinish, inline_limit: int) -> dict[str, Any]:
    """The ``_FINISH`` parameters of an attempt's end; a large output goes to the blob table."""
    stored = None if finish.output is None else values.put(conn, finish.output, inline_limit)
    return {
        "row_id": finish.row_id,
        "status": finish.status,
        "ended_at": finish.ended_at,
        "error_type": finish.error_type,
        "error_message": finish.error_message,
        "traceback": finish.traceback,
        "logs": finish.logs,
        "will_retry": finish.will_retry,
        "output_codec": None,
        "output_inline": None,
        "output_blob": None,
        "output_size": None,
        **values.columns(stored),
    }


def _start_params(run_id: str, start: NodeStart) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "node": start.node,
        "attempt": start.attempt,
        "status": start.status,
        "started_at": start.started_at,
        "ended_at": start.ended_at,
        "error_message": start.error_message,
        "will_retry": False,
    }


def _prefixed(prefix: str, params: dict[str, Any]) -> dict[str, Any]:
    return {prefix + name: value for name, value in params.items()}


@functools.lru_cache(maxsize=256)
def _step_statement(finishes: int, starts: int, events: int) -> sa.Select:
    """One PostgreSQL statement for a checkpoint of this shape: each finish an ``UPDATE``
    guarded on ``running`` (together counted in ``finished``), each start an ``INSERT`` (its
    id in ``started_<k>``), each event an ``INSERT``. One row per statement and bind
    parameters only, so SQLAlchemy compiles each shape once (multi-row VALUES it would
    compile every time)."""
    nr, ev = tables.node_run, tables.event
    counts = []
    for k in range(finishes):
        finished = (
            sa.update(nr)
            .where(nr.c.id == sa.bindparam(f"f{k}_row_id"), nr.c.status == "running")
            .values({c: sa.bindparam(f"f{k}_{c}") for c in _FINISH_COLUMNS})
            .returning(nr.c.id)
            .cte(f"finished_{k}")
        )
        counts.append(sa.select(sa.func.count()).select_from(finished).scalar_subquery())
    columns = [sum(counts, sa.literal(0)).label("finished")]
    for k in range(starts):
        started = (
            sa.insert(nr)
            .values({c: sa.bindparam(f"s{k}_{c}") for c in _START_COLUMNS})
            .returning(nr.c.id)
            .cte(f"started_{k}")
        )
        columns.append(sa.select(started.c.id).scalar_subquery().label(f"started_{k}"))
    statement = sa.select(*columns)
    for k in range(events):
        appended = sa.insert(ev).values({c: sa.bindparam(f"e{k}_{c}") for c in _EVENT_COLUMNS})
        statement = statement.add_cte(appended.cte(f"appended_{k}"))
    return statement


def _event_dicts(rows: list[dict[str, Any]]) -> list[EventDict]:
    """Written event rows as readers get them."""
    return [
        {
            "run_id": r["run_id"],
            "seq": r["seq"],
            "type": r["type"],
            "node": r["node"],
            "data": r["data"],
            "at": r["created_at"].timestamp(),
        }
        for r in rows
    ]


def new_run_id() -> str:
    return secrets.token_hex(16)


class Store:
    """Access to one database."""

    def __init__(self, url: str, secret_key: bytes | None = None) -> None:
        self.url = db.normalize_url(url)
        self.secret_key = secret_key
        """Verifies pickled values on load."""
        self.engine = db.create_engine(self.url)
        self.dialect = self.engine.dialect.name

    def migrate(self) -> None:
        db.ensure_schema(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        with self.engine.connect().execution_options(**db.WRITE) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _lock_run(self, conn: sa.Connection, run_id: str) -> Run:
        query = sa.select(tables.run).where(tables.run.c.id == run_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return Run(**row._mapping)

    # -- workflows --------------------------------------------------------------------------

    def publish(
        self, name: str, version: str, spec: dict, code: bytes, key_id: str | None = None
    ) -> WorkflowVersion:
        """Store an immutable version (idempotent: the same version is stored once)."""
        for _ in range(3):
            try:
                with self.write() as conn:
                    return self._publish(conn, name, version, spec, code, key_id)
            except IntegrityError:
                continue  # a concurrent publisher won the race; read its row
        raise RuntimeError(f"could not publish workflow {name!r}")

    def _publish(
        self,
        conn: sa.Connection,
        name: str,
        version: str,
        spec: dict,
        code: bytes,
        key_id: str | None,
    ) -> WorkflowVersion:
        wf = tables.workflow
        workflow_id = conn.execute(sa.select(wf.c.id).where(wf.c.name == name)).scalar()
        if workflow_id is None:
            workflow_id = conn.execute(
                sa.insert(wf).values(name=name, created_at=utcnow()).returning(wf.c.id)
            ).scalar_one()
        wv = tables.workflow_version
        row = conn.execute(
            sa.select(wv).where(wv.c.workflow_id == workflow_id, wv.c.version == version)
        ).first()
        if row is None:
            row = conn.execute(
                sa.insert(wv)
                .values(
                    workflow_id=workflow_id,
                    version=version,
                    spec=spec,
                    code=code,
                    key_id=key_id,
                    created_at=utcnow(),
                )
                .returning(wv)
            ).one()
        return WorkflowVersion(**row._mapping)

    def replace_code(self, version_id: int, code: bytes, key_id: str | None) -> None:
        """Re-sign a version's code (same content, another key)."""
        wv = tables.workflow_version
        with self.write() as conn:
            conn.execute(
                sa.update(wv).where(wv.c.id == version_id).values(code=code, key_id=key_id)
            )

    def code_key_ids(self) -> dict[str | None, int]:
        """Signing key id -> how many versions with code it signs (``None``: code signed
        before keys had ids)."""
        wv = tables.workflow_version
        with self.read() as conn:
            rows = conn.execute(
                sa.select(wv.c.key_id, sa.func.count())
                .where(sa.func.length(wv.c.code) > 0)
                .group_by(wv.c.key_id)
            ).all()
        return {key_id: count for key_id, count in rows}

    def version_ids_with_code(self) -> list[int]:
        """Versions whose code was stored (every one a worker could load), oldest first."""
        wv = tables.workflow_version
        with self.read() as conn:
            query = sa.select(wv.c.id).where(sa.func.length(wv.c.code) > 0).order_by(wv.c.id)
            return list(conn.execute(query).scalars())

    def get_version(self, version_id: int) -> WorkflowVersion:
        with self.read() as conn:
            row = conn.execute(
                sa.select(tables.workflow_version).where(tables.workflow_version.c.id == version_id)
            ).first()
        if row is None:
            raise NotFound(f"no workflow version with id {version_id}")
        return WorkflowVersion(**row._mapping)

    def workflows(self) -> list[Workflow]:
        with self.read() as conn:
            rows = conn.execute(sa.select(tables.workflow).order_by(tables.workflow.c.name))
            return [Workflow(**r._mapping) for r in rows]

    def workflow_name(self, workflow_id: int) -> str:
        with self.read() as conn:
            name = conn.execute(
                sa.select(tables.workflow.c.name).where(tables.workflow.c.id == workflow_id)
            ).scalar()
        if name is None:
            raise NotFound(f"no workflow with id {workflow_id}")
        return name

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        version: WorkflowVersion,
        inputs: dict[str, Any],
        *,
        trigger: str,
        owner: str | None,
        inline_limit: int,
    ) -> tuple[Run, list[EventDict]]:
        """Insert a ``queued`` run; ``inputs`` maps names to already-encoded values."""
        run_id = new_run_id()
        now = utcnow()
        with self.write() as conn:
            refs = {k: values.to_json(values.put(conn, v, inline_limit)) for k, v in inputs.items()}
            record = Run(
                id=run_id,
                workflow_id=version.workflow_id,
                version_id=version.id,
                status="queued",
                inputs=refs,
                trigger=trigger,
                owner=owner,
                created_at=now,
                cancel_requested=False,
            )
            conn.execute(sa.insert(tables.run).values(**record.model_dump()))
            events = self._append(
                conn, run_id, [NewEvent("run.queued", data={"status": "queued"})], next_seq=1
            )
        return record, events

    def get_run(self, run_id: str) -> Run:
        with self.read() as conn:
            row = conn.execute(sa.select(tables.run).where(tables.run.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return Run(**row._mapping)

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | Sequence[str] | None = None,
        trigger: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[tuple[Run, str]]:
        """Newest first, with each run's workflow name."""
        r, wf = tables.run, tables.workflow
        query = (
            sa.select(r, wf.c.name.label("workflow_name"))
            .join(wf, wf.c.id == r.c.workflow_id)
            .order_by(r.c.created_at.desc(), r.c.id)
            .limit(limit)
            .offset(offset)
        )
        if workflow:
            query = query.where(wf.c.name == workflow)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(r.c.status.in_(statuses))
        if trigger:
            query = query.where(r.c.trigger == trigger)
        with self.read() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            mapping = dict(row._mapping)
            name = mapping.pop("workflow_name")
            out.append((Run(**mapping), name))
        return out

    def load_input(self, stored: dict[str, Any]) -> Any:
        ref = values.from_json(stored)
        if "inline" in ref:
            return codecs.decode(ref["codec"], ref["inline"], self.secret_key)
        with self.read() as conn:
            return values.load(conn, ref, self.secret_key)

    def runs_to_recover(self, now: dt.datetime) -> list[Run]:
        """Unfinished runs nobody is advancing: queued, or running with an expired lease."""
        r = tables.run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(r).where(
                    r.c.status.in_(["queued", "running"]),
                    sa.or_(r.c.lease_owner.is_(None), r.c.lease_until < now),
                )
            ).all()
        return [Run(**row._mapping) for row in rows]

    def running_leases(self) -> list[Run]:
        r = tables.run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(r).where(r.c.status == "running", r.c.lease_owner.is_not(None))
            ).all()
        return [Run(**row._mapping) for row in rows]

    # -- leases -----------------------------------------------------------------------------

    def acquire(
        self, run_id: str, owner: str, seconds: float, *, steal_from: str | None = None
    ) -> tuple[Run, list[EventDict], bool] | None:
        """Take the run's lease if it is free, expired, or held by ``steal_from`` (a process
        known to be dead). ``queued`` becomes ``running``. Returns the run, the events written,
        and whether this is the run's first pass (so it has no checkpoints yet); ``None`` when
        not taken."""
        now = utcnow()
        with self.write() as conn:
            run = self._lock_run(conn, run_id)
            if run.status not in ("queued", "running"):
                return None
            free = (
                run.lease_owner is None
                or run.lease_owner == owner
                or (run.lease_until is not None and run.lease_until < now)
                or (steal_from is not None and run.lease_owner == steal_from)
            )
            if not free:
                return None
            changes: dict[str, Any] = {
                "lease_owner": owner,
                "lease_until": now + dt.timedelta(seconds=seconds),
            }
            events: list[NewEvent] = []
            if run.status == "queued":
                changes |= {"status": "running", "started_at": run.started_at or now}
                events.append(NewEvent("run.running", data={"status": "running"}))
            conn.execute(sa.update(tables.run).where(tables.run.c.id == run_id).values(**changes))
            first_pass = run.started_at is None
            for key, value in changes.items():
                setattr(run, key, value)
            return run, self._append(conn, run_id, events), first_pass

    def renew(self, run_id: str, owner: str, seconds: float) -> bool | None:
        """Extend our lease. Returns whether a cancel was requested; ``None`` if lease lost."""
        r = tables.run
        with self.write() as conn:
            return conn.execute(
                sa.update(r)
                .where(r.c.id == run_id, r.c.lease_owner == owner)
                .values(lease_until=utcnow() + dt.timedelta(seconds=seconds))
                .returning(r.c.cancel_requested)
            ).scalar()

    def release(self, run_id: str, owner: str) -> None:
        r = tables.run
        with self.write() as conn:
            conn.execute(
                sa.update(r)
                .where(r.c.id == run_id, r.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # -- checkpoints ------------------------------------------------------------------------

    def attempts(self, run_id: str) -> list[NodeRun]:
        """All attempt rows of a run, oldest first."""
        nr = tables.node_run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(nr).where(nr.c.run_id == run_id).order_by(nr.c.node, nr.c.attempt)
            ).all()
        return [NodeRun(**r._mapping) for r in rows]

    def load_output(self, row: NodeRun) -> Any:
        stored = values.from_columns(row)
        if stored is None:
            return None
        if "inline" in stored:
            return codecs.decode(stored["codec"], stored["inline"], self.secret_key)
        with self.read() as conn:
            return values.load(conn, stored, self.secret_key)

    def step(
        self,
        run_id: str,
        *,
        finishes: Sequence[NodeFinish] = (),
        starts: Sequence[NodeStart] = (),
        interrupted: Sequence[int] = (),
        events: Sequence[NewEvent] = (),
        next_seq: int | None = None,
        inline_limit: int = 16_384,
        lock_run: bool = False,
    ) -> list[EventDict]:
        """One checkpoint transaction: finish attempts, start new ones, append events.

        Raises ``StaleWrite`` (nothing written) when a finished attempt is no longer
        ``running``: another process has taken the run over.
        """
        try:
            return self._step(
                run_id, finishes, starts, interrupted, events, next_seq, inline_limit, lock_run
            )
        except IntegrityError:
            # another writer (a cancel, a resume) took our event numbers: count again
            try:
                return self._step(
                    run_id, finishes, starts, interrupted, events, None, inline_limit, lock_run
                )
            except IntegrityError as exc:
                raise StaleWrite(f"run {run_id} changed under this writer: {exc}") from exc

    def _step(
        self,
        run_id: str,
        finishes: Sequence[NodeFinish],
        starts: Sequence[NodeStart],
        interrupted: Sequence[int],
        events: Sequence[NewEvent],
        next_seq: int | None,
        inline_limit: int,
        lock_run: bool,
    ) -> list[EventDict]:
        nr = tables.node_run
        with self.write() as conn:
            if lock_run:
                self._lock_run(conn, run_id)
            # a chain's step (one finish, one start, two events) gains most; a big step gains
            # nothing (PostgreSQL plans 50 CTEs about as slowly as it runs 50 statements) and
            # SQLAlchemy's compile time grows with the square of the CTEs
            writes = len(finishes) + len(starts)
            small = 0 < writes <= 4 and len(events) <= 8
            if conn.dialect.name == "postgresql" and not interrupted and small:
                return self._step_in_one_statement(
                    conn, run_id, finishes, starts, events, next_seq, inline_limit
                )
            self._apply_finishes(conn, finishes, inline_limit)
            if interrupted:
                conn.execute(
                    sa.update(nr)
                    .where(nr.c.id.in_(interrupted), nr.c.status == "running")
                    .values(
                        status="failed",
                        ended_at=utcnow(),
                        error_type="Interrupted",
                        error_message="the process running this attempt stopped before it "
                        "finished; the node runs again",
                    )
                )
            for start in starts:
                start.row_id = conn.execute(_START, _start_params(run_id, start)).scalar_one()
            return self._append(conn, run_id, events, next_seq=next_seq)

    @staticmethod
    def _apply_finishes(
        conn: sa.Connection, finishes: Sequence[NodeFinish], inline_limit: int
    ) -> None:
        for finish in finishes:
            if conn.execute(_FINISH, _finish_params(conn, finish, inline_limit)).rowcount != 1:
                raise StaleWrite(f"attempt row {finish.row_id} is no longer running")

    def _step_in_one_statement(
        self,
        conn: sa.Connection,
        run_id: str,
        finishes: Sequence[NodeFinish],
        starts: Sequence[NodeStart],
        events: Sequence[NewEvent],
        next_seq: int | None,
        inline_limit: int,
    ) -> list[EventDict]:
        """``_step`` on PostgreSQL: the finishes, the starts and the events go to the server as
        one statement of data-modifying CTEs, so a checkpoint is one round trip and a commit
        (each separate statement costs a round trip as long as the fsync'd commit itself)."""
        rows = self._event_rows(conn, run_id, events, next_seq)
        params: dict[str, Any] = {}
        for k, finish in enumerate(finishes):
            params |= _prefixed(f"f{k}_", _finish_params(conn, finish, inline_limit))
        for k, start in enumerate(starts):
            params |= _prefixed(f"s{k}_", _start_params(run_id, start))
        for k, row in enumerate(rows):
            params |= _prefixed(f"e{k}_", row)
        statement = _step_statement(len(finishes), len(starts), len(rows))
        outcome = conn.execute(statement, params).one()
        if outcome.finished != len(finishes):
            raise StaleWrite(f"run {run_id}: an attempt it finishes is no longer running")
        for k, start in enumerate(starts):
            start.row_id = outcome[1 + k]
        return _event_dicts(rows)

    def finish_run(
        self,
        run_id: str,
        owner: str,
        status: str,
        *,
        error: str | None = None,
        expect_waiting: Sequence[int] = (),
        finishes: Sequence[NodeFinish] = (),
        node_events: Sequence[NewEvent] = (),
        events: Sequence[NewEvent] = (),
        next_seq: int | None = None,
        inline_limit: int = 16_384,
    ) -> tuple[list[EventDict], bool]:
        """End the pass: checkpoint the last ``finishes``, set the run's status and release
        our lease, in one transaction. Returns the events written and whether the run was
        settled.

        With ``expect_waiting`` (the wait rows this pass saw), if any of them was answered
        meanwhile only the finishes and ``node_events`` are written and the run is not settled:
        the pass must go on.
        """
        args = (run_id, owner, status, error, expect_waiting, finishes, node_events, events)
        try:
            return self._finish_run(*args, next_seq, inline_limit)
        except IntegrityError:
            # a cancel or resume appended events meanwhile: count again
            return self._finish_run(*args, None, inline_limit)

    def _finish_run(
        self,
        run_id: str,
        owner: str,
        status: str,
        error: str | None,
        expect_waiting: Sequence[int],
        finishes: Sequence[NodeFinish],
        node_events: Sequence[NewEvent],
        events: Sequence[NewEvent],
        next_seq: int | None,
        inline_limit: int,
    ) -> tuple[list[EventDict], bool]:
        r, nr = tables.run, tables.node_run
        now = utcnow()
        with self.write() as conn:
            run = self._lock_run(conn, run_id)
            if run.lease_owner != owner:
                raise StaleWrite(f"run {run_id} is no longer leased by this process")
            self._apply_finishes(conn, finishes, inline_limit)
            if expect_waiting:
                answered = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(nr)
                    .where(nr.c.id.in_(expect_waiting), nr.c.status != "waiting")
                ).scalar_one()
                if answered:
                    return self._append(conn, run_id, node_events, next_seq=next_seq), False
            changes: dict[str, Any] = {"status": status, "lease_owner": None, "lease_until": None}
            if status in tables.RUN_FINISHED:
                changes |= {"ended_at": now, "error": error}
            if status == "cancelled":
                conn.execute(
                    sa.update(nr)
                    .where(nr.c.run_id == run_id, nr.c.status.in_(["waiting", "running"]))
                    .values(status="cancelled", ended_at=now)
                )
            conn.execute(sa.update(r).where(r.c.id == run_id).values(**changes))
            written = self._append(conn, run_id, [*node_events, *events], next_seq=next_seq)
            return written, True

    # -- human input and cancellation ------------------------------------------------------

    def answer_wait(
        self,
        run_id: str,
        node: str,
        output: codecs.Encoded,
        *,
        answered_by: str | None,
        inline_limit: int,
    ) -> tuple[str, list[EventDict]]:
        """Record a validated payload as the wait node's output. Returns the run's status
        afterwards (``queued`` when it must be advanced again)."""
        r, nr = tables.run, tables.node_run
        with self.write() as conn:
            run = self._lock_run(conn, run_id)
            row = conn.execute(
                sa.select(nr.c.id).where(
                    nr.c.run_id == run_id, nr.c.node == node, nr.c.status == "waiting"
                )
            ).scalar()
            if row is None or run.status in tables.RUN_FINISHED:
                raise RunStateError(
                    f"run {run_id} is {run.status} and node {node!r} is not waiting for input"
                )
            stored = values.put(conn, output, inline_limit)
            conn.execute(
                sa.update(nr)
                .where(nr.c.id == row)
                .values(
                    status="succeeded",
                    ended_at=utcnow(),
                    answered_by=answered_by,
                    **values.columns(stored),
                )
            )
            events = [NewEvent("node.succeeded", node, {"answered_by": answered_by})]
            status = run.status
            if run.status == "waiting":
                status = "queued"
                conn.execute(sa.update(r).where(r.c.id == run_id).values(status=status))
                events.append(NewEvent("run.queued", data={"status": status}))
            return status, self._append(conn, run_id, events)

    def request_cancel(self, run_id: str) -> tuple[str, list[EventDict]]:
        """Cancel at once when nobody is advancing the run; otherwise flag it for the
        lease holder. Returns the run's status afterwards."""
        r, nr = tables.run, tables.node_run
        now = utcnow()
        with self.write() as conn:
            run = self._lock_run(conn, run_id)
            if run.status in tables.RUN_FINISHED:
                return run.status, []
            active = (
                run.status == "running"
                and run.lease_owner is not None
                and run.lease_until is not None
                and run.lease_until >= now
            )
            if active:
                conn.execute(sa.update(r).where(r.c.id == run_id).values(cancel_requested=True))
                return run.status, self._append(conn, run_id, [NewEvent("run.cancel_requested")])
            conn.execute(
                sa.update(nr)
                .where(nr.c.run_id == run_id, nr.c.status.in_(["waiting", "running"]))
                .values(status="cancelled", ended_at=now)
            )
            conn.execute(
                sa.update(r)
                .where(r.c.id == run_id)
                .values(
                    status="cancelled",
                    cancel_requested=True,
                    ended_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            events = [NewEvent("run.cancelled", data={"status": "cancelled"})]
            return "cancelled", self._append(conn, run_id, events)

    # -- documents --------------------------------------------------------------------------

    def save_document(
        self,
        run_id: str,
        node: str,
        name: str,
        kind: str,
        encoded: codecs.Encoded,
        inline_limit: int,
    ) -> None:
        """Store (or replace) a node's named document; its event goes with the checkpoint."""
        d = tables.document
        with self.write() as conn:
            stored = values.put(conn, encoded, inline_limit)
            conn.execute(
                sa.delete(d).where(d.c.run_id == run_id, d.c.node == node, d.c.name == name)
            )
            conn.execute(
                sa.insert(d).values(
                    run_id=run_id,
                    node=node,
                    name=name,
                    kind=kind,
                    created_at=utcnow(),
                    **values.columns(stored, "value"),
                )
            )

    def documents(self, run_id: str) -> list[tuple[tables.Document, Any]]:
        """The run's documents in the order they were saved, each with its decoded value."""
        d = tables.document
        with self.read() as conn:
            rows = conn.execute(sa.select(d).where(d.c.run_id == run_id).order_by(d.c.id)).all()
            out = []
            for row in rows:
                doc = tables.Document(**row._mapping)
                ref = values.from_columns(doc, "value")
                out.append((doc, values.load(conn, ref, self.secret_key)))  # type: ignore[arg-type]
        return out

    # -- events -----------------------------------------------------------------------------

    def _append(
        self,
        conn: sa.Connection,
        run_id: str,
        new: Sequence[NewEvent],
        *,
        next_seq: int | None = None,
    ) -> list[EventDict]:
        rows = self._event_rows(conn, run_id, new, next_seq)
        if rows:
            conn.execute(sa.insert(tables.event), rows)
        return _event_dicts(rows)

    @staticmethod
    def _event_rows(
        conn: sa.Connection, run_id: str, new: Sequence[NewEvent], next_seq: int | None
    ) -> list[dict[str, Any]]:
        """The event table rows for ``new``, numbered from ``next_seq`` (or after the last)."""
        if not new:
            return []
        if next_seq is None:
            last = conn.execute(_LAST_SEQ, {"run_id": run_id}).scalar()
            next_seq = (last or 0) + 1
        now = utcnow()
        return [
            {
                "run_id": run_id,
                "seq": next_seq + i,
                "type": e.type,
                "node": e.node,
                "data": e.data,
                "created_at": now,
            }
            for i, e in enumerate(new)
        ]

    def events(self, run_id: str, after: int = 0, limit: int | None = None) -> list[EventDict]:
        ev = tables.event
        query = sa.select(ev).where(ev.c.run_id == run_id, ev.c.seq > after).order_by(ev.c.seq)
        if limit:
            query = query.limit(limit)
        with self.read() as conn:
            return [tables.event_dict(r) for r in conn.execute(query)]

    def last_seq(self, run_id: str) -> int:
        ev = tables.event
        with self.read() as conn:
            return (
                conn.execute(sa.select(sa.func.max(ev.c.seq)).where(ev.c.run_id == run_id)).scalar()
                or 0
            )
