"""The Store contract in SQLAlchemy Core, for both dialects: ``PostgresStore`` and
``SqliteStore`` differ only in the hooks at the end of ``SqlStore`` (how a row is locked, how a
blob insert ignores a duplicate, how a checkpoint reaches the server, how leadership is held).
See ``runtime.store.contract`` for what each operation means."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from runtime import codecs
from runtime.errors import InputError, NotFound, RunStateError, StoreUnavailable
from runtime.statuses import (
    NODE_BLOCKING,
    NODE_FINISHABLE,
    NODE_OPEN,
    NODE_PARKED,
    RUN_ACTIVE,
    RUN_HOLDING_A_SLOT,
    RUN_PARKED,
    RUN_RETRYABLE,
    RUN_UNSUCCESSFUL,
)
from runtime.store import db, tables, values
from runtime.store.contract import (
    COUNT_CAP,
    DIED,
    INTERRUPTED,
    LOST,
    WORKER_LOST,
    Acquired,
    DraftConflict,
    GiveUp,
    Leadership,
    Lease,
    NewEvent,
    NewRun,
    NodeFinish,
    NodeStart,
    Pooler,
    Purged,
    Renewal,
    RunRow,
    StaleWrite,
    Store,
    Takeover,
    VersionInfo,
    WebhookTarget,
    WorkflowSummary,
    cut_off,
)
from runtime.store.tables import (
    EventDict,
    NodeRun,
    Run,
    Schedule,
    ScheduleFire,
    ShareLink,
    WebhookDelivery,
    WebhookEndpoint,
    Workflow,
    WorkflowDraft,
    WorkflowVersion,
    from_row,
    utcnow,
)

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
    "retry_at",
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
    "error_type",
    "error_message",
    "will_retry",
    "owner",
    "lease_until",
    "isolation",
    "element",
    "wake_at",
)
_EVENT_COLUMNS = ("run_id", "seq", "type", "node", "data", "created_at")


def _cut_off_values() -> dict[str, Any]:
    """``SET`` of attempts found cut off, chosen per row as ``cut_off`` does."""
    isolated = tables.node_run.c.isolation == "process"
    return {
        "status": "failed",
        "ended_at": sa.bindparam("now", type_=tables.UTCDateTime()),
        "error_type": sa.case((isolated, WORKER_LOST), else_=INTERRUPTED),
        "error_message": sa.case((isolated, LOST), else_=DIED),
        "will_retry": True,
        "lease_until": None,
    }


def _finish_values(prefix: str = "") -> dict[str, Any]:
    """``SET`` of an attempt's end: its columns, and its lease cleared unless kept."""
    lease = sa.case(
        (sa.bindparam(f"{prefix}keep_lease", type_=sa.Boolean()), tables.node_run.c.lease_until),
        else_=sa.null(),
    )
    return {**{c: sa.bindparam(prefix + c) for c in _FINISH_COLUMNS}, "lease_until": lease}


_FINISH = (
    sa.update(tables.node_run)
    .where(
        tables.node_run.c.id == sa.bindparam("row_id"),
        # constants, not an expanding IN: the statement also runs as one executemany
        sa.or_(
            *(
                tables.node_run.c.status == sa.literal_column(f"'{s}'")
                for s in sorted(NODE_FINISHABLE)
            )
        ),
    )
    .values(_finish_values())
)
_START = (
    sa.insert(tables.node_run)
    .values({c: sa.bindparam(c) for c in _START_COLUMNS})
    .returning(tables.node_run.c.id)
)


ELEMENT_COLUMNS = (
    "id",
    "run_id",
    "node",
    "element",
    "attempt",
    "status",
    "started_at",
    "ended_at",
    "error_type",
    "error_message",
    "will_retry",
    "retry_at",
    "owner",
    "lease_until",
)
"""What ``element_page`` reads of a row: all a drill-down shows, no output, logs or traceback."""

_START_MANY = sa.insert(tables.node_run).returning(
    tables.node_run.c.id, sort_by_parameter_order=True
)
"""Many starts in one statement (a map's elements): ids in the order of the parameters."""


def _start_params(run_id: str, start: NodeStart) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "node": start.node,
        "attempt": start.attempt,
        "status": start.status,
        "started_at": start.started_at,
        "ended_at": start.ended_at,
        "error_type": start.error_type,
        "error_message": start.error_message,
        "will_retry": False,
        "owner": start.owner,
        "lease_until": start.lease_until,
        "isolation": start.isolation,
        "element": start.element,
        "wake_at": start.wake_at,
    }


def _prefixed(prefix: str, params: dict[str, Any]) -> dict[str, Any]:
    return {prefix + name: value for name, value in params.items()}


def _typed(name: str, column: str, table: sa.Table) -> sa.BindParameter:
    return sa.bindparam(name, type_=table.c[column].type)


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


@contextmanager
def _available() -> Iterator[None]:
    """Database errors that say "not now" (unreachable, restarting, locked, deadlocked) as
    ``StoreUnavailable``, which callers may retry; everything else as it is."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise StoreUnavailable(f"the database is unavailable: {exc.orig}") from exc


M = TypeVar("M", bound=SQLModel)


def _named(model: type[M], row: Any) -> tuple[M, str]:
    """A row selected with its workflow's name (``workflow_name``) as the model and the name."""
    fields = dict(row._mapping)
    name = fields.pop("workflow_name")
    return from_row(model, fields), name


def new_run_id() -> str:
    return secrets.token_hex(16)


class SqlStore(Store):
    """The contract on one SQLAlchemy engine."""

    def __init__(
        self, url: str, secret_key: bytes | None = None, *, pooler: Pooler = "none"
    ) -> None:
        self.url = db.normalize_url(url)
        self.secret_key = secret_key
        """Verifies pickled values on load."""
        self.pooler = pooler
        """``transaction``: behind a transaction pooler (``Settings.database_pooler``)."""
        self.engine = db.create_engine(self.url, prepared=pooler == "none")
        self._node_writes = threading.BoundedSemaphore(db.NODE_WRITE_CONNECTIONS)
        """Writes made from node code (documents) share this many connections, so however
        many node threads save at once, the passes' own checkpoints find a free one."""

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        db.ensure_schema(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        with (
            _available(),
            self.engine.connect().execution_options(**db.WRITE) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with _available(), self.engine.connect() as conn, conn.begin():
            yield conn

    def for_update(self, query: Any) -> Any:
        return self._for_update(query)

    def _lock_run(self, conn: sa.Connection, run_id: str) -> Run:
        query = self._for_update(sa.select(tables.run).where(tables.run.c.id == run_id))
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return from_row(Run, row._mapping)

    # -- workflows --------------------------------------------------------------------------

    def publish(
        self,
        name: str,
        version: str,
        spec: dict,
        code: bytes,
        key_id: str | None = None,
        node_digests: dict[str, str] | None = None,
        created_by: str | None = None,
        *,
        published: bool = True,
        message: str | None = None,
        make_current: bool = False,
        node_sources: dict[str, str] | None = None,
    ) -> WorkflowVersion:
        """Store an immutable version (idempotent: the same version is stored once)."""
        for _ in range(3):
            try:
                with self.write() as conn:
                    return self._publish(
                        conn,
                        name,
                        version,
                        spec,
                        code,
                        key_id,
                        node_digests,
                        created_by,
                        published=published,
                        message=message,
                        make_current=make_current,
                        node_sources=node_sources,
                    )
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
        node_digests: dict[str, str] | None = None,
        created_by: str | None = None,
        *,
        published: bool = True,
        message: str | None = None,
        make_current: bool = False,
        node_sources: dict[str, str] | None = None,
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
        first = published and (row is None or not row.published)
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
                    node_digests=node_digests,
                    node_sources=node_sources,
                    created_by=created_by and created_by[:200],
                    message=message and message[:2000],
                    published=published,
                )
                .returning(wv)
            ).one()
        elif first:
            # a draft's test version published now: by this publisher, at this time
            row = conn.execute(
                sa.update(wv)
                .where(wv.c.id == row.id)
                .values(
                    published=True,
                    created_at=utcnow(),
                    created_by=created_by and created_by[:200],
                    message=message and message[:2000],
                )
                .returning(wv)
            ).one()
        if first or (make_current and row.published):
            conn.execute(
                sa.update(wf).where(wf.c.id == workflow_id).values(current_version_id=row.id)
            )
        return from_row(WorkflowVersion, row._mapping)

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

    def pickle_key_ids(self) -> list[str]:
        pk = tables.pickle_key
        with self.read() as conn:
            rows = conn.execute(
                sa.select(pk.c.key_id).order_by(pk.c.first_used_at, pk.c.key_id)
            ).scalars()
            return list(rows)

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
        return from_row(WorkflowVersion, row._mapping)

    def workflows(self) -> list[Workflow]:
        with self.read() as conn:
            rows = conn.execute(sa.select(tables.workflow).order_by(tables.workflow.c.name))
            return [from_row(Workflow, r._mapping) for r in rows]

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
        trigger_ref: str | None = None,
        targets: list[str] | None = None,
        start_at: dt.datetime | None = None,
        priority: int = 0,
        run_id: str | None = None,
    ) -> tuple[Run, list[EventDict]]:
        """Insert a ``queued`` run (``scheduled`` with ``start_at``); ``inputs`` maps names to
        already-encoded values."""
        new = NewRun(
            version, inputs, trigger, owner, trigger_ref, start_at, targets, priority, run_id
        )
        with self.write() as conn:
            return self._insert_run(conn, new, inline_limit)

    def _insert_run(
        self,
        conn: sa.Connection,
        new: NewRun,
        inline_limit: int,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Run, list[EventDict]]:
        run_id = new.run_id or new_run_id()
        assert new.version.id is not None, "a stored version has an id"
        refs = {
            k: values.to_json(values.put(conn, v, inline_limit, self._insert))
            for k, v in new.inputs.items()
        }
        status = "queued" if new.start_at is None else "scheduled"
        record = Run(
            id=run_id,
            workflow_id=new.version.workflow_id,
            version_id=new.version.id,
            status=status,
            inputs=refs,
            trigger=new.trigger,
            trigger_ref=new.trigger_ref,
            owner=new.owner,
            created_at=utcnow(),
            cancel_requested=False,
            start_at=new.start_at,
            targets=new.targets,
            priority=new.priority,
            parent_run_id=new.parent_run_id,
            parent_node=new.parent_node,
            replay_of=new.replay_of,
        )
        conn.execute(sa.insert(tables.run).values(**record.model_dump()))
        data: dict[str, Any] = {"status": status, **(extra or {})}
        if new.start_at is not None:
            data["start_at"] = new.start_at.astimezone(dt.UTC).isoformat()
        events = self._append(conn, run_id, [NewEvent(f"run.{status}", data=data)], next_seq=1)
        return record, events

    def create_replay(
        self,
        new: NewRun,
        reuse: Mapping[str, int],
        overrides: Mapping[str, codecs.Encoded],
        *,
        inline_limit: int,
    ) -> tuple[Run, list[EventDict]]:
        nr, b = tables.node_run, tables.blob
        source = new.replay_of
        assert source is not None, "a replay names its source run"
        extra = {"replay_of": source, "reused": sorted(reuse), "overridden": sorted(overrides)}
        with self.write() as conn:
            record, events = self._insert_run(conn, new, inline_limit, extra)
            ids = sorted(reuse.values())
            for i in range(0, len(ids), 500):  # under every dialect's bound-parameter limit
                chunk = ids[i : i + 500]
                # the source's row, re-pointed: its inline bytes or its blob hash, not a copy
                rows = sa.select(
                    sa.literal(record.id, sa.String()),
                    nr.c.node,
                    sa.literal(1),
                    sa.literal("succeeded", sa.String()),
                    nr.c.started_at,
                    nr.c.ended_at,
                    nr.c.output_codec,
                    nr.c.output_inline,
                    nr.c.output_blob,
                    nr.c.output_size,
                    nr.c.answered_by,
                    nr.c.id,
                ).where(nr.c.id.in_(chunk), nr.c.run_id == source, nr.c.status == "succeeded")
                columns = [
                    "run_id",
                    "node",
                    "attempt",
                    "status",
                    "started_at",
                    "ended_at",
                    "output_codec",
                    "output_inline",
                    "output_blob",
                    "output_size",
                    "answered_by",
                    "reused_from",
                ]
                conn.execute(sa.insert(nr).from_select(columns, rows))
            copied = conn.execute(
                sa.select(sa.func.count()).where(nr.c.run_id == record.id)
            ).scalar_one()
            if copied != len(ids):
                raise RunStateError(
                    f"run {source}: {len(ids) - copied} of the checkpoints to reuse are not "
                    "succeeded attempts of it (retried or deleted meanwhile?)"
                )
            # retention deletes a blob no run stored since its cutoff: this run holds these now
            held = sa.select(nr.c.output_blob).where(
                nr.c.run_id == record.id, nr.c.output_blob.is_not(None)
            )
            conn.execute(sa.update(b).where(b.c.hash.in_(held)).values(created_at=utcnow()))
            now = utcnow()
            for node, encoded in overrides.items():
                stored = values.put(conn, encoded, inline_limit, self._insert)
                conn.execute(
                    sa.insert(nr).values(
                        run_id=record.id,
                        node=node,
                        attempt=1,
                        status="succeeded",
                        started_at=now,
                        ended_at=now,
                        **values.columns(stored),
                    )
                )
            return record, events

    def release_due(self, now: dt.datetime, limit: int = 500) -> list[tuple[str, list[EventDict]]]:
        r = tables.run
        out = []
        with self.write() as conn:
            due = conn.execute(
                self._for_update(
                    sa.select(r.c.id)
                    .where(r.c.status == "scheduled", r.c.start_at <= now)
                    .order_by(r.c.start_at, r.c.id)
                    .limit(limit)
                )
            ).scalars()
            for run_id in list(due):
                conn.execute(sa.update(r).where(r.c.id == run_id).values(status="queued"))
                events = [NewEvent("run.queued", data={"status": "queued"})]
                out.append((run_id, self._append(conn, run_id, events)))
            parked = conn.execute(
                self._for_update(
                    sa.select(r.c.id)
                    .where(r.c.status.in_(RUN_PARKED), r.c.wake_at <= now)
                    .order_by(r.c.wake_at, r.c.id)
                    .limit(limit)
                )
            ).scalars()
            for run_id in list(parked):
                out.append((run_id, self._wake(conn, run_id, now)))
        return out

    def _wake(self, conn: sa.Connection, run_id: str, now: dt.datetime) -> list[EventDict]:
        """Queue a parked run whose wake time came, ending its parked attempts due by
        ``now`` (under the run row's lock, which the caller holds)."""
        r, nr = tables.run, tables.node_run
        events: list[NewEvent] = []
        rows = conn.execute(
            sa.select(
                nr.c.id, nr.c.node, nr.c.attempt, nr.c.status, nr.c.wake_at, nr.c.output_codec
            )
            .where(nr.c.run_id == run_id, nr.c.status.in_(NODE_PARKED), nr.c.wake_at <= now)
            .order_by(nr.c.id)
        ).all()
        for row in rows:
            if row.output_codec is not None:  # a sleep's wake time, a wait's default answer
                conn.execute(
                    sa.update(nr).where(nr.c.id == row.id).values(status="succeeded", ended_at=now)
                )
                data: dict[str, Any] = {"attempt": row.attempt, "woke": True}
                if row.status == "waiting":
                    data["timed_out"] = True
                events.append(NewEvent("node.succeeded", row.node, data))
                continue
            message = (
                f"wait node {row.node!r} was not answered by "
                f"{row.wake_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC (its timeout)"
            )
            conn.execute(
                sa.update(nr)
                .where(nr.c.id == row.id)
                .values(
                    status="failed",
                    ended_at=now,
                    error_type="TimeoutError",
                    error_message=message,
                    will_retry=False,
                )
            )
            events.append(
                NewEvent(
                    "node.failed",
                    row.node,
                    {"attempt": row.attempt, "error_type": "TimeoutError", "error": message},
                )
            )
        conn.execute(sa.update(r).where(r.c.id == run_id).values(status="queued", wake_at=None))
        woken = [row.node for row in rows]
        events.append(NewEvent("run.queued", data={"status": "queued", "woken": woken}))
        return self._append(conn, run_id, events)

    def next_wake(self) -> dt.datetime | None:
        r = tables.run
        with self.read() as conn:
            start = conn.execute(
                sa.select(sa.func.min(r.c.start_at)).where(r.c.status == "scheduled")
            ).scalar()
            wake = conn.execute(
                sa.select(sa.func.min(r.c.wake_at)).where(r.c.status.in_(RUN_PARKED))
            ).scalar()
        return min((t for t in (start, wake) if t is not None), default=None)

    def get_run(self, run_id: str) -> Run:
        with self.read() as conn:
            row = conn.execute(sa.select(tables.run).where(tables.run.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return from_row(Run, row._mapping)

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | Sequence[str] | None = None,
        trigger: str | None = None,
        owner: str | None = None,
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
        if owner:
            query = query.where(r.c.owner == owner)
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [_named(Run, row) for row in rows]

    def load_input(self, stored: dict[str, Any]) -> Any:
        ref = values.from_json(stored)
        if not values.needs_connection(ref):
            return codecs.decode(ref["codec"], ref["inline"], self.secret_key)
        with self.read() as conn:
            return values.load(conn, ref, self.secret_key)

    def free_runs(self) -> list[Run]:
        """Unfinished runs nobody holds: ``queued``, or ``running`` with no lease holder (a
        pass released them, or stopped at a wait that was then answered)."""
        r = tables.run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(r).where(r.c.status.in_(RUN_ACTIVE), r.c.lease_owner.is_(None))
            ).all()
        return [from_row(Run, row._mapping) for row in rows]

    def held_leases(self) -> list[Run]:
        """Runs some process holds a lease on (to watch whether their holder renews it)."""
        r = tables.run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(r).where(r.c.status.in_(RUN_ACTIVE), r.c.lease_owner.is_not(None))
            ).all()
        return [from_row(Run, row._mapping) for row in rows]

    # -- leases -----------------------------------------------------------------------------

    def acquire(
        self,
        run_id: str,
        owner: str,
        seconds: float,
        *,
        takeover: Takeover | None = None,
        executing: Collection[int] = (),
    ) -> Acquired | None:
        """Take the run's lease and read its checkpoints, in one transaction under the run
        row's lock. Returns ``None`` (nothing written) when the run is finished, waiting, or
        held by another process and ``takeover`` does not grant it.

        The epoch goes up by one, so every write of an earlier pass is refused from now on;
        ``queued`` becomes ``running``. Then every attempt row is read, and attempts whose
        code is no longer executing anywhere are closed: ``running`` rows become ``failed``
        with ``error_type='Interrupted'`` (and a ``node.interrupted`` event), and attempt
        leases they hold are cleared. An attempt is taken to be executing when it is this
        process's and its row id is in ``executing``, or another process's that is not the
        one taken over and its ``lease_until`` lies ahead. ``owner`` may hold the lease
        already: the caller guarantees no pass of its own is still advancing the run.
        """
        nr = tables.node_run
        now = utcnow()
        with self.write() as conn:
            run = self._lock_run(conn, run_id)
            if run.status not in RUN_ACTIVE:
                return None
            held = run.lease_owner is not None and run.lease_owner != owner
            if held and not (takeover is not None and takeover.grants(run)):
                return None
            if run.status == "queued" and not self._admitted(conn, run):
                return None
            changes: dict[str, Any] = {
                "lease_owner": owner,
                "lease_until": now + dt.timedelta(seconds=seconds),
                "lease_epoch": run.lease_epoch + 1,
            }
            events: list[NewEvent] = []
            if run.status == "queued":
                changes |= {"status": "running", "started_at": run.started_at or now}
                events.append(NewEvent("run.running", data={"status": "running"}))
            if run.error is not None:
                changes["error"] = None  # why an earlier pass stalled: no longer the case
            conn.execute(sa.update(tables.run).where(tables.run.c.id == run_id).values(**changes))
            # a run's first pass has no attempts to read, unless it replays another run
            first_pass = run.started_at is None and run.replay_of is None
            for key, value in changes.items():
                setattr(run, key, value)
            lease = Lease(run_id, owner, run.lease_epoch)
            attempts = [] if first_pass else self._attempts(conn, run_id)
            gone = takeover.owner if takeover else None

            def executing_still(row: NodeRun) -> bool:
                if row.owner == owner:
                    return row.id in executing
                if row.owner is None or row.owner == gone:
                    return False
                return row.lease_until is not None and row.lease_until > now

            dead = [a for a in attempts if a.lease_until is not None and not executing_still(a)]
            if dead:
                conn.execute(
                    sa.update(nr).where(nr.c.id.in_([a.id for a in dead])).values(lease_until=None)
                )
            stopped = [a for a in attempts if a.status == "running" and not executing_still(a)]
            if stopped:
                conn.execute(
                    sa.update(nr)
                    .where(nr.c.id.in_([a.id for a in stopped]), nr.c.status == "running")
                    .values(_cut_off_values()),
                    {"now": now},
                )
            for row in dead:
                row.lease_until = None
            for row in stopped:
                row.status, row.ended_at, row.will_retry = "failed", now, True
                row.error_type, row.error_message = cut_off(row)
                events.append(
                    NewEvent(
                        "node.interrupted",
                        row.node,
                        {"attempt": row.attempt, "reason": row.error_message},
                    )
                )
            written = self._append(conn, run_id, events)
            return Acquired(run, lease, attempts, written, first_pass)

    def renew(
        self, owner: str, leases: Sequence[Lease], attempts: Sequence[int], seconds: float
    ) -> Renewal:
        """The heartbeat of one process, in one transaction: extend each lease still at its
        epoch, and the attempt leases of the rows this process is executing."""
        r, nr = tables.run, tables.node_run
        until = utcnow() + dt.timedelta(seconds=seconds)
        held: set[str] = set()
        cancel: set[str] = set()
        with self.write() as conn:
            if leases:
                match = sa.or_(
                    *(sa.and_(r.c.id == x.run_id, r.c.lease_epoch == x.epoch) for x in leases)
                )
                for run_id, cancel_requested in conn.execute(
                    sa.update(r)
                    .where(match)
                    .values(lease_until=until)
                    .returning(r.c.id, r.c.cancel_requested)
                ):
                    held.add(run_id)
                    if cancel_requested:
                        cancel.add(run_id)
            if attempts:
                # a lease already cleared stays cleared: the attempt finished since the
                # heartbeat looked
                conn.execute(
                    sa.update(nr)
                    .where(
                        nr.c.id.in_(list(attempts)),
                        nr.c.owner == owner,
                        nr.c.lease_until.is_not(None),
                    )
                    .values(lease_until=until)
                )
        return Renewal(frozenset(held), frozenset(cancel))

    def release(self, lease: Lease, *, stalled: str | None = None) -> list[EventDict]:
        """Give the run up (a pass stopping early): another process may take it at once.
        With ``stalled`` (why this process cannot advance it, e.g. its code does not load
        here) the reason becomes the run's ``error`` and a ``run.stalled`` event; the run
        stays unfinished for a process that can."""
        r = tables.run
        with self.write() as conn:
            run = self._lock_run(conn, lease.run_id)
            if run.lease_epoch != lease.epoch:
                return []
            changes: dict[str, Any] = {"lease_owner": None, "lease_until": None}
            events: list[NewEvent] = []
            if stalled:
                changes["error"] = stalled
                events.append(NewEvent("run.stalled", data={"reason": stalled}))
            conn.execute(sa.update(r).where(r.c.id == lease.run_id).values(**changes))
            return self._append(conn, lease.run_id, events)

    def release_attempts(self, owner: str, row_ids: Sequence[int]) -> None:
        """The code of these attempts has returned (or was killed): clear their leases, so
        the next attempt of their nodes may start. Needs no run lease: an attempt's liveness
        is its process's to report."""
        nr = tables.node_run
        with self.write() as conn:
            conn.execute(
                sa.update(nr)
                .where(nr.c.id.in_(list(row_ids)), nr.c.owner == owner)
                .values(lease_until=None)
            )

    def unstart(self, lease: Lease, row_ids: Sequence[int]) -> None:
        """Close ``running`` attempts whose code this pass never began (it is stopping): they
        are retried without counting against ``max_interruptions``."""
        nr = tables.node_run
        with self.write() as conn:
            self._fence(conn, lease)
            conn.execute(
                sa.update(nr)
                .where(nr.c.id.in_(list(row_ids)), nr.c.status == "running")
                .values(
                    status="failed",
                    ended_at=utcnow(),
                    error_type=WORKER_LOST,
                    error_message="not started: the process was stopping",
                    will_retry=True,
                    lease_until=None,
                )
            )

    def claim_attempt(
        self, run_id: str, row_id: int, handed_by: str, owner: str, seconds: float
    ) -> bool:
        """Take a handed-out attempt: one conditional update, its row count the answer (two
        workers given the same message cannot both see 1)."""
        nr = tables.node_run
        with self.write() as conn:
            claimed = conn.execute(
                sa.update(nr)
                .where(
                    nr.c.id == row_id,
                    nr.c.run_id == run_id,
                    nr.c.status == "running",
                    nr.c.owner == handed_by,
                )
                .values(owner=owner, lease_until=utcnow() + dt.timedelta(seconds=seconds))
            )
            return claimed.rowcount == 1

    def finish_orphans(
        self,
        run_id: str,
        owner: str,
        ends: Sequence[tuple[NodeFinish, Sequence[NewEvent]]],
        inline_limit: int,
    ) -> tuple[set[int], list[EventDict]]:
        """The ends of handed-out attempts finishing together in one process: one lock of
        the run row for all of them (they would queue on it one by one otherwise)."""
        nr = tables.node_run
        with self.write() as conn:
            self._lock_run(conn, run_id)
            ids = [finish.row_id for finish, _ in ends]
            mine = set(
                conn.execute(
                    sa.select(nr.c.id).where(
                        nr.c.id.in_(ids), nr.c.status == "running", nr.c.owner == owner
                    )
                ).scalars()
            )
            if not mine:
                return set(), []
            self._apply_finishes(conn, [f for f, _ in ends if f.row_id in mine], inline_limit)
            events = [e for f, evs in ends if f.row_id in mine for e in evs]
            return mine, self._append(conn, run_id, events)

    def finish_orphan(
        self,
        run_id: str,
        owner: str,
        finish: NodeFinish,
        events: Sequence[NewEvent],
        inline_limit: int,
    ) -> list[EventDict]:
        """Record the end of an attempt whose pass is gone (it stopped while the attempt's
        code still ran in this process). Written only if the row is still ``running`` and
        ours: a pass that took the run meanwhile either waited for it (and now sees it) or
        found it dead and closed it (and then nothing is written)."""
        nr = tables.node_run
        with self.write() as conn:
            self._lock_run(conn, run_id)
            mine = conn.execute(
                sa.select(nr.c.id).where(
                    nr.c.id == finish.row_id, nr.c.status == "running", nr.c.owner == owner
                )
            ).first()
            if mine is None:
                return []
            self._apply_finishes(conn, [finish], inline_limit)
            return self._append(conn, run_id, events)

    def _fence(self, conn: sa.Connection, lease: Lease) -> None:
        """Hold the run at ``lease``'s epoch for the rest of the transaction, or refuse."""
        r = tables.run
        query = sa.select(r.c.id).where(
            r.c.id == lease.run_id, r.c.lease_epoch == lease.epoch, r.c.lease_owner == lease.owner
        )
        if conn.execute(self._for_key_share(query)).first() is None:
            raise StaleWrite(f"run {lease.run_id} is no longer held under epoch {lease.epoch}")

    # -- checkpoints ------------------------------------------------------------------------

    def attempts(self, run_id: str) -> list[NodeRun]:
        """All attempt rows of a run, oldest first."""
        with self.read() as conn:
            return self._attempts(conn, run_id)

    @staticmethod
    def _attempts(conn: sa.Connection, run_id: str) -> list[NodeRun]:
        nr = tables.node_run
        rows = conn.execute(
            sa.select(nr)
            .where(nr.c.run_id == run_id, nr.c.element.is_(None))
            .order_by(nr.c.node, nr.c.attempt)
        ).all()
        return [from_row(NodeRun, r._mapping) for r in rows]

    def node_attempts(self, run_id: str, node: str) -> list[NodeRun]:
        """One node's attempt rows, oldest first."""
        nr = tables.node_run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(nr)
                .where(nr.c.run_id == run_id, nr.c.node == node, nr.c.element.is_(None))
                .order_by(nr.c.attempt)
            ).all()
        return [from_row(NodeRun, r._mapping) for r in rows]

    @staticmethod
    def _elements_of(run_id: str, node: str) -> Any:
        nr = tables.node_run
        return sa.and_(
            nr.c.run_id == run_id,
            nr.c.element.is_not(None),
            nr.c.node.startswith(f"{node}[", autoescape=True),
        )

    def element_attempts(self, run_id: str, node: str) -> list[NodeRun]:
        nr = tables.node_run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(nr)
                .where(self._elements_of(run_id, node))
                .order_by(nr.c.element, nr.c.attempt)
            ).all()
        return [from_row(NodeRun, r._mapping) for r in rows]

    def attempt_rows(self, run_id: str, row_ids: Sequence[int]) -> list[NodeRun]:
        nr = tables.node_run
        if not row_ids:
            return []
        with self.read() as conn:
            rows = conn.execute(
                sa.select(nr).where(nr.c.run_id == run_id, nr.c.id.in_(list(row_ids)))
            ).all()
        return [from_row(NodeRun, r._mapping) for r in rows]

    def element_page(
        self, run_id: str, node: str, *, offset: int = 0, limit: int = 50
    ) -> list[NodeRun]:
        nr = tables.node_run
        latest = (
            sa.select(nr.c.element, sa.func.max(nr.c.attempt).label("attempt"))
            .where(self._elements_of(run_id, node), nr.c.element >= offset)
            .group_by(nr.c.element)
            .order_by(nr.c.element)
            .limit(limit)
            .subquery()
        )
        light = [nr.c[c] for c in ELEMENT_COLUMNS]
        with self.read() as conn:
            rows = conn.execute(
                sa.select(*light)
                .join(
                    latest,
                    sa.and_(nr.c.element == latest.c.element, nr.c.attempt == latest.c.attempt),
                )
                .where(self._elements_of(run_id, node))
                .order_by(nr.c.element)
            ).all()
        unread = dict.fromkeys(c.name for c in nr.c if c.name not in ELEMENT_COLUMNS)
        return [from_row(NodeRun, {**unread, **r._mapping}) for r in rows]

    def load_output(self, row: NodeRun) -> Any:
        stored = values.from_columns(row)
        if stored is None:
            return None
        if not values.needs_connection(stored):
            return codecs.decode(stored["codec"], stored["inline"], self.secret_key)
        with self.read() as conn:
            return values.load(conn, stored, self.secret_key)

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
        """One checkpoint transaction of the pass holding ``lease``: finish attempts, start
        new ones, close as interrupted the ``running`` rows in ``interrupt`` (attempts of
        another process found dead), mark interrupted attempts as the last of their node,
        append events.

        Raises ``StaleWrite`` (nothing written) when the run's epoch moved past the lease's
        (another process took the run over) or a finished attempt is no longer ``running``.
        ``starts`` get their ``row_id``; the written events are returned.
        """
        args = (lease, finishes, starts, give_up, interrupt, events)
        try:
            return self._step(*args, next_seq, inline_limit)
        except IntegrityError:
            # another writer (a cancel, a resume) took our event numbers: count again
            try:
                return self._step(*args, None, inline_limit)
            except IntegrityError as exc:
                raise StaleWrite(f"run {lease.run_id} changed under this writer: {exc}") from exc

    def _step(
        self,
        lease: Lease,
        finishes: Sequence[NodeFinish],
        starts: Sequence[NodeStart],
        give_up: Sequence[GiveUp],
        interrupt: Sequence[int],
        events: Sequence[NewEvent],
        next_seq: int | None,
        inline_limit: int,
    ) -> list[EventDict]:
        nr = tables.node_run
        with self.write() as conn:
            if not (give_up or interrupt):
                written = self._checkpoint(
                    conn, lease, finishes, starts, events, next_seq, inline_limit
                )
                if written is not None:
                    return written
            self._fence(conn, lease)
            self._apply_finishes(conn, finishes, inline_limit)
            if interrupt:
                conn.execute(
                    sa.update(nr)
                    .where(nr.c.id.in_(list(interrupt)), nr.c.status == "running")
                    .values(_cut_off_values()),
                    {"now": utcnow()},
                )
            for stop in give_up:
                conn.execute(
                    sa.update(nr)
                    .where(nr.c.id == stop.row_id)
                    .values(will_retry=False, error_message=stop.error_message)
                )
            if len(starts) > 1:
                params = [_start_params(lease.run_id, start) for start in starts]
                ids = conn.execute(_START_MANY, params).scalars().all()
                for start, row_id in zip(starts, ids, strict=True):
                    start.row_id = row_id
            elif starts:
                start = starts[0]
                start.row_id = conn.execute(_START, _start_params(lease.run_id, start)).scalar_one()
            for start in starts:
                if start.output is not None:  # what a parked attempt ends with, at its wake
                    stored = values.put(conn, start.output, inline_limit, self._insert)
                    conn.execute(
                        sa.update(nr).where(nr.c.id == start.row_id).values(values.columns(stored))
                    )
            return self._append(conn, lease.run_id, events, next_seq=next_seq)

    def _apply_finishes(
        self, conn: sa.Connection, finishes: Sequence[NodeFinish], inline_limit: int
    ) -> None:
        if len(finishes) > 1 and conn.dialect.supports_sane_multi_rowcount:
            # many ends at once (a map's elements): one executemany, the rows counted in all
            many = [self._finish_params(conn, finish, inline_limit) for finish in finishes]
            if conn.execute(_FINISH, many).rowcount != len(finishes):
                raise StaleWrite("an attempt row of this checkpoint is no longer running")
        else:
            for finish in finishes:
                params = self._finish_params(conn, finish, inline_limit)
                if conn.execute(_FINISH, params).rowcount != 1:
                    raise StaleWrite(f"attempt row {finish.row_id} is no longer running")
        self._cache_writes(conn, finishes)

    def _cache_writes(self, conn: sa.Connection, finishes: Sequence[NodeFinish]) -> None:
        """What cached nodes' ends add: a hit's source attempt, a run attempt's entry."""
        nr, nc = tables.node_run, tables.node_cache
        for finish in finishes:
            if finish.status != "succeeded":
                continue
            if finish.cached_from is not None:
                # the source's reference, not a copy: its inline bytes or its blob hash
                source = conn.execute(
                    sa.select(
                        nr.c.output_codec, nr.c.output_inline, nr.c.output_blob, nr.c.output_size
                    ).where(nr.c.id == finish.cached_from)
                ).one()
                conn.execute(
                    sa.update(nr)
                    .where(nr.c.id == finish.row_id)
                    .values(cached_from=finish.cached_from, **source._mapping)
                )
                if source.output_blob is not None:  # retention keeps what a run stored lately
                    b = tables.blob
                    conn.execute(
                        sa.update(b)
                        .where(b.c.hash == source.output_blob)
                        .values(created_at=tables.utcnow())
                    )
            if finish.cache is not None:
                entry = {
                    "key": finish.cache.key,
                    "workflow": finish.cache.workflow,
                    "node": finish.cache.node,
                    "node_run_id": finish.row_id,
                    "created_at": tables.utcnow(),  # the clock a test may set
                }
                conn.execute(
                    self._insert(nc)
                    .values(entry)
                    .on_conflict_do_update(
                        index_elements=["key"],
                        set_={k: entry[k] for k in ("node_run_id", "created_at", "workflow")},
                    )
                )

    def cache_lookup(self, key: str, max_age: dt.timedelta | None = None) -> NodeRun | None:
        nr, nc = tables.node_run, tables.node_cache
        query = (
            sa.select(nr)
            .join(nc, nc.c.node_run_id == nr.c.id)
            .where(nc.c.key == key, nr.c.status == "succeeded", nr.c.output_codec.is_not(None))
        )
        if max_age is not None:
            query = query.where(nc.c.created_at >= tables.utcnow() - max_age)
        with self.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else from_row(NodeRun, row._mapping)

    def attempt_origins(self, row_ids: Collection[int]) -> dict[int, tuple[str, int]]:
        nr, ids, out = tables.node_run, sorted(set(row_ids)), {}
        with self.read() as conn:
            for i in range(0, len(ids), 500):  # under every dialect's bound-parameter limit
                rows = conn.execute(
                    sa.select(nr.c.id, nr.c.run_id, nr.c.attempt).where(
                        nr.c.id.in_(ids[i : i + 500])
                    )
                )
                out.update({r.id: (r.run_id, r.attempt) for r in rows})
        return out

    def cache_clear(self, workflow: str | None = None, node: str | None = None) -> int:
        if node is not None and workflow is None:
            raise InputError("clearing one node's cache entries needs its workflow")
        nc = tables.node_cache
        query = sa.delete(nc)
        if workflow is not None:
            query = query.where(nc.c.workflow == workflow)
        if node is not None:
            query = query.where(nc.c.node == node)
        with self.write() as conn:
            return int(conn.execute(query).rowcount)

    def _finish_params(
        self, conn: sa.Connection, finish: NodeFinish, inline_limit: int
    ) -> dict[str, Any]:
        """The ``_FINISH`` parameters of an attempt's end; a large output goes to the blob
        table."""
        output = finish.output
        stored = None if output is None else values.put(conn, output, inline_limit, self._insert)
        return {
            "row_id": finish.row_id,
            "status": finish.status,
            "ended_at": finish.ended_at,
            "error_type": finish.error_type,
            "error_message": finish.error_message,
            "traceback": finish.traceback,
            "logs": finish.logs,
            "will_retry": finish.will_retry,
            "retry_at": finish.retry_at,
            "keep_lease": finish.keep_lease,
            "output_codec": None,
            "output_inline": None,
            "output_blob": None,
            "output_size": None,
            **values.columns(stored),
        }

    def finish_run(
        self,
        lease: Lease,
        status: str,
        *,
        error: str | None = None,
        expect_waiting: Sequence[int] = (),
        finishes: Sequence[NodeFinish] = (),
        node_events: Sequence[NewEvent] = (),
        events: Sequence[NewEvent] = (),
        next_seq: int | None = None,
        inline_limit: int = 16_384,
        wake_at: dt.datetime | None = None,
    ) -> tuple[list[EventDict], bool]:
        """End the pass: checkpoint the last ``finishes``, set the run's status (and a parked
        run's ``wake_at``) and release the lease, in one transaction. Returns the events
        written and whether the run was settled. Raises ``StaleWrite`` (nothing written) when
        the lease was lost.

        With ``expect_waiting`` (the wait rows this pass saw), if any of them was answered
        meanwhile only the finishes and ``node_events`` are written and the run is not settled:
        the pass must go on. A run that ends ``failed`` or ``cancelled`` closes the attempt
        rows still ``running`` or ``waiting`` as ``cancelled``: no node of a finished run is
        left running.
        """
        args = (lease, status, error, expect_waiting, finishes, node_events, events)
        try:
            return self._finish_run(*args, next_seq, inline_limit, wake_at)
        except IntegrityError:
            # a cancel or resume appended events meanwhile: count again
            return self._finish_run(*args, None, inline_limit, wake_at)

    def _finish_run(
        self,
        lease: Lease,
        status: str,
        error: str | None,
        expect_waiting: Sequence[int],
        finishes: Sequence[NodeFinish],
        node_events: Sequence[NewEvent],
        events: Sequence[NewEvent],
        next_seq: int | None,
        inline_limit: int,
        wake_at: dt.datetime | None = None,
    ) -> tuple[list[EventDict], bool]:
        r, nr = tables.run, tables.node_run
        run_id = lease.run_id
        now = utcnow()
        with self.write() as conn:
            run = self._lock_run(conn, run_id)
            if (run.lease_epoch, run.lease_owner) != (lease.epoch, lease.owner):
                raise StaleWrite(f"run {run_id} is no longer held under epoch {lease.epoch}")
            self._apply_finishes(conn, finishes, inline_limit)
            if expect_waiting:
                answered = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(nr)
                    .where(nr.c.id.in_(expect_waiting), nr.c.status != "waiting")
                ).scalar_one()
                if answered:
                    return self._append(conn, run_id, node_events, next_seq=next_seq), False
            if run.cancel_requested and status not in tables.RUN_FINISHED:
                # a cancel was requested while this pass parked the run, before its holder
                # heard it: once the lease is released nobody would act on it, so it ends here
                status, error, wake_at = "cancelled", None, None
                events = [NewEvent("run.cancelled", data={"status": "cancelled"})]
            changes: dict[str, Any] = {
                "status": status,
                "lease_owner": None,
                "lease_until": None,
                "wake_at": wake_at,
            }
            if status in tables.RUN_FINISHED:
                changes |= {"ended_at": now, "error": error}
            if status in RUN_UNSUCCESSFUL:
                conn.execute(
                    sa.update(nr)
                    .where(nr.c.run_id == run_id, nr.c.status.in_(NODE_OPEN))
                    .values(status="cancelled", ended_at=now)
                )
            conn.execute(sa.update(r).where(r.c.id == run_id).values(**changes))
            written = self._append(conn, run_id, [*node_events, *events], next_seq=next_seq)
            if status in tables.RUN_FINISHED and run.parent_run_id is not None:
                self._end_child(conn, run, status, error, inline_limit)
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
            stored = values.put(conn, output, inline_limit, self._insert)
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
                conn.execute(
                    sa.update(r).where(r.c.id == run_id).values(status=status, wake_at=None)
                )
                events.append(NewEvent("run.queued", data={"status": status}))
            return status, self._append(conn, run_id, events)

    def retry_run(
        self, run_id: str, *, retried_by: str | None = None
    ) -> tuple[list[str], list[EventDict]]:
        """Queue a failed or cancelled run again, under the run row's lock: its status
        becomes ``queued`` (error, end and cancel request cleared) and ``retry_floor`` the
        highest attempt row id it has, so the next pass starts again every node whose latest
        attempt failed, was skipped or cancelled, and keeps every succeeded one. Returns the
        nodes started again and the ``run.retried`` event; ``RunStateError`` (nothing
        written) for a run that is not failed or cancelled."""
        r, nr = tables.run, tables.node_run
        with self.write() as conn:
            run = self._lock_run(conn, run_id)
            if run.status not in RUN_RETRYABLE:
                raise RunStateError(
                    f"run {run_id} is {run.status}: only a failed or cancelled run can be "
                    "retried (rerun starts a new run with the same inputs)"
                )
            latest: dict[str, Any] = {}
            for row in conn.execute(
                sa.select(nr.c.id, nr.c.node, nr.c.status, nr.c.element)
                .where(nr.c.run_id == run_id)
                .order_by(nr.c.node, nr.c.attempt)
            ):
                latest[row.node] = row
            # map elements count for the floor (a retry runs failed elements again) but are
            # no nodes to restart
            floor = max((row.id for row in latest.values()), default=None)
            restart = [
                n
                for n, row in latest.items()
                if row.status in NODE_BLOCKING and row.element is None
            ]
            conn.execute(
                sa.update(r)
                .where(r.c.id == run_id)
                .values(
                    status="queued",
                    error=None,
                    ended_at=None,
                    cancel_requested=False,
                    lease_owner=None,
                    lease_until=None,
                    retry_floor=floor,
                    wake_at=None,
                )
            )
            data = {"status": "queued", "restart": restart, "by": retried_by}
            return restart, self._append(conn, run_id, [NewEvent("run.retried", data=data)])

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
                .where(nr.c.run_id == run_id, nr.c.status.in_(NODE_OPEN))
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
                    wake_at=None,  # a sleeping run: nothing wakes it any more
                    # a holder we took for dead may still be alive: fence it off
                    lease_epoch=run.lease_epoch + 1,
                )
            )
            events = [NewEvent("run.cancelled", data={"status": "cancelled"})]
            written = self._append(conn, run_id, events)
            if run.parent_run_id is not None:
                self._end_child(conn, run, "cancelled", "cancelled by request", 16_384)
            return "cancelled", written

    # -- sub-graphs -------------------------------------------------------------------------

    def start_child(self, new: NewRun, inline_limit: int) -> tuple[Run, list[EventDict]]:
        assert new.run_id is not None and new.parent_run_id is not None
        try:
            with self.write() as conn:
                query = sa.select(tables.run).where(tables.run.c.id == new.run_id)
                row = conn.execute(self._for_update(query)).first()
                if row is None:
                    return self._insert_run(conn, new, inline_limit)
                child = from_row(Run, row._mapping)
                if child.status == "succeeded":
                    # a new attempt of a node whose child succeeded: the same outputs
                    self._end_child(conn, child, "succeeded", None, inline_limit)
                    return child, []
        except IntegrityError:  # another writer inserted it first: it goes on
            return self.get_run(new.run_id), []
        if child.status not in RUN_RETRYABLE:
            return child, []
        try:
            _, events = self.retry_run(child.id, retried_by=f"run:{new.parent_run_id}")
        except RunStateError:  # retried by another writer meanwhile
            events = []
        return self.get_run(child.id), events

    def settle_parked(
        self,
        run_id: str,
        node: str,
        *,
        error_type: str,
        error: str,
        will_retry: bool = False,
    ) -> list[EventDict]:
        failure = {"error_type": error_type, "error_message": error, "will_retry": will_retry}
        with self.write() as conn:
            return self._settle_parked(conn, run_id, node, failure, None, 16_384)

    def children(self, run_id: str) -> list[Run]:
        r = tables.run
        with self.read() as conn:
            rows = conn.execute(
                sa.select(r).where(r.c.parent_run_id == run_id).order_by(r.c.created_at)
            ).all()
        return [from_row(Run, row._mapping) for row in rows]

    def _end_child(
        self, conn: sa.Connection, child: Run, status: str, error: str | None, inline_limit: int
    ) -> None:
        """A child run ended (its row locked by this transaction): complete its parent's
        sub-graph node, if it still waits for it."""
        from runtime.nodes.subgraph import CHILD_CANCELLED, CHILD_FAILED

        assert child.parent_run_id is not None and child.parent_node is not None
        output: codecs.Encoded | None = None
        failure: dict[str, Any] = {}
        if status == "succeeded":
            try:
                output = self._child_outputs(conn, child)
            except Exception as exc:  # an output the parent cannot hold: the node fails
                failure = {
                    "error_type": type(exc).__name__,
                    "error_message": f"child run {child.id}: {exc}",
                    "will_retry": False,
                }
        elif status == "cancelled":
            failure = {
                "error_type": CHILD_CANCELLED,
                "error_message": f"child run {child.id} was cancelled",
                "will_retry": False,
            }
        else:
            failure = {
                "error_type": CHILD_FAILED,
                "error_message": f"child run {child.id} failed: {error}",
                "will_retry": True,
            }
        self._settle_parked(
            conn, child.parent_run_id, child.parent_node, failure, output, inline_limit
        )

    def _child_outputs(self, conn: sa.Connection, child: Run) -> codecs.Encoded:
        """The child's outputs dict (as ``Run.outputs`` reads it), encoded for its parent."""
        wv = tables.workflow_version
        spec = conn.execute(sa.select(wv.c.spec).where(wv.c.id == child.version_id)).scalar_one()
        names = child.targets or spec["outputs"]
        latest = {row.node: row for row in self._attempts(conn, child.id)}
        outputs: dict[str, Any] = {}
        pickled = False
        for name in names:
            row = latest.get(name)
            if row is None or row.status != "succeeded":
                continue
            stored = values.from_columns(row)
            pickled = pickled or row.output_codec == codecs.PICKLE
            outputs[name] = None if stored is None else values.load(conn, stored, self.secret_key)
        return codecs.encode(
            outputs,
            allow_pickle=pickled,
            what=f"outputs of child run {child.id}",
            key=self.secret_key,
        )

    def _settle_parked(
        self,
        conn: sa.Connection,
        run_id: str,
        node: str,
        failure: dict[str, Any],
        output: codecs.Encoded | None,
        inline_limit: int,
    ) -> list[EventDict]:
        r, nr = tables.run, tables.node_run
        try:
            run = self._lock_run(conn, run_id)
        except NotFound:  # purged meanwhile
            return []
        row = conn.execute(
            sa.select(nr.c.id, nr.c.attempt)
            .where(nr.c.run_id == run_id, nr.c.node == node, nr.c.status == "waiting")
            .order_by(nr.c.attempt.desc())
        ).first()
        if row is None or run.status in tables.RUN_FINISHED:
            return []
        now = utcnow()
        if run.cancel_requested:  # the parent is being cancelled: so is its node
            conn.execute(
                sa.update(nr).where(nr.c.id == row.id).values(status="cancelled", ended_at=now)
            )
            return self._append(conn, run_id, [NewEvent("node.cancelled", node)])
        if failure:
            changes: dict[str, Any] = {"status": "failed", "ended_at": now, **failure}
            event = NewEvent(
                "node.retrying" if failure["will_retry"] else "node.failed",
                node,
                {
                    "attempt": row.attempt,
                    "error_type": failure["error_type"],
                    "error": failure["error_message"],
                },
            )
        else:
            assert output is not None
            stored = values.put(conn, output, inline_limit, self._insert)
            changes = {"status": "succeeded", "ended_at": now, **values.columns(stored)}
            event = NewEvent(
                "node.succeeded", node, {"attempt": row.attempt, "size": len(output.data)}
            )
        conn.execute(sa.update(nr).where(nr.c.id == row.id).values(**changes))
        events = [event]
        if run.status in RUN_PARKED:  # its other parked nodes are looked at again too
            conn.execute(sa.update(r).where(r.c.id == run_id).values(status="queued", wake_at=None))
            events.append(NewEvent("run.queued", data={"status": "queued"}))
        return self._append(conn, run_id, events)

    # -- documents --------------------------------------------------------------------------

    def save_document(
        self,
        lease: Lease,
        node: str,
        name: str,
        kind: str,
        encoded: codecs.Encoded,
        inline_limit: int,
    ) -> None:
        """Store (or replace) a node's named document, for the pass holding ``lease`` (a node
        of a pass that lost the run writes nothing: ``StaleWrite``); its event goes with the
        checkpoint."""
        d = tables.document
        run_id = lease.run_id
        with self._node_writes, self.write() as conn:
            self._fence(conn, lease)
            stored = values.put(conn, encoded, inline_limit, self._insert)
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
                doc = from_row(tables.Document, row._mapping)
                ref = values.from_columns(doc, "value")
                out.append((doc, values.load(conn, ref, self.secret_key)))  # type: ignore[arg-type]
        return out

    def document(self, run_id: str, node: str, name: str) -> Any:
        d = tables.document
        where = (d.c.run_id == run_id, d.c.node == node, d.c.name == name)
        with self.read() as conn:
            row = conn.execute(sa.select(d).where(*where)).first()
            if row is None:
                return None
            doc = from_row(tables.Document, row._mapping)
            ref = values.from_columns(doc, "value")
            return values.load(conn, ref, self.secret_key)  # type: ignore[arg-type]

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

    # -- catalogue ----------------------------------------------------------------------

    def workflow_summaries(self, now: dt.datetime) -> list[WorkflowSummary]:
        """Every workflow with its latest version and recent activity, by name."""
        wf, wv, r = tables.workflow, tables.workflow_version, tables.run
        since = now - dt.timedelta(days=1)
        latest = (
            sa.select(
                wv.c.workflow_id,
                sa.func.max(wv.c.id).label("version_id"),
                sa.func.count().label("versions"),
            )
            .where(wv.c.published)
            .group_by(wv.c.workflow_id)
            .subquery()
        )
        last_at = (
            sa.select(r.c.workflow_id, sa.func.max(r.c.created_at).label("at"))
            .group_by(r.c.workflow_id)
            .subquery()
        )
        recent = (
            sa.select(r.c.workflow_id, sa.func.count().label("n"))
            .where(r.c.created_at >= since)
            .group_by(r.c.workflow_id)
            .subquery()
        )
        query = (
            sa.select(
                wf.c.id,
                wf.c.name,
                latest.c.versions,
                wv.c.id.label("version_id"),
                wv.c.version,
                wv.c.spec,
                wv.c.created_at,
                sa.func.coalesce(recent.c.n, 0).label("recent"),
                wf.c.current_version_id,
                wf.c.archived_at,
            )
            .join(latest, latest.c.workflow_id == wf.c.id)
            .join(wv, wv.c.id == latest.c.version_id)
            .outerjoin(recent, recent.c.workflow_id == wf.c.id)
            .order_by(wf.c.name)
        )
        last_runs = (
            sa.select(r.c.workflow_id, r.c.id, r.c.status, r.c.created_at)
            .join(
                last_at,
                (last_at.c.workflow_id == r.c.workflow_id) & (last_at.c.at == r.c.created_at),
            )
            .order_by(r.c.id)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
            last = {row.workflow_id: row for row in conn.execute(last_runs)}
            pointed = [row.current_version_id for row in rows if row.current_version_id]
            currents = dict(
                conn.execute(sa.select(wv.c.id, wv.c.version).where(wv.c.id.in_(pointed))).all()
            )
        out = []
        for row in rows:
            run = last.get(row.id)
            out.append(
                WorkflowSummary(
                    name=row.name,
                    description=row.spec.get("description", ""),
                    versions=row.versions,
                    latest_version=row.version,
                    latest_version_id=row.version_id,
                    node_count=len(row.spec["nodes"]),
                    updated_at=_utc(row.created_at),
                    last_run_id=run.id if run else None,
                    last_run_status=run.status if run else None,
                    last_run_at=_utc(run.created_at) if run else None,
                    runs_last_day=row.recent,
                    current_version=currents.get(row.current_version_id, row.version),
                    archived=row.archived_at is not None,
                )
            )
        return out

    def version_infos(self, workflow: str) -> list[VersionInfo]:
        """A workflow's versions, newest first; ``NotFound`` names the known workflows."""
        wv, r = tables.workflow_version, tables.run
        workflow_id = self._workflow_id(workflow)
        counts = (
            sa.select(r.c.version_id, sa.func.count().label("n"))
            .where(r.c.workflow_id == workflow_id)
            .group_by(r.c.version_id)
            .subquery()
        )
        query = (
            sa.select(
                wv.c.id,
                wv.c.version,
                wv.c.created_at,
                wv.c.spec,
                wv.c.created_by,
                wv.c.message,
                counts.c.n,
            )
            .outerjoin(counts, counts.c.version_id == wv.c.id)
            .where(wv.c.workflow_id == workflow_id, wv.c.published)
            .order_by(wv.c.id.desc())
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
            current = conn.execute(
                sa.select(tables.workflow.c.current_version_id).where(
                    tables.workflow.c.id == workflow_id
                )
            ).scalar()
        if current is None and rows:
            current = rows[0].id
        return [
            VersionInfo(
                row.id,
                row.version,
                _utc(row.created_at),
                len(row.spec["nodes"]),
                row.n or 0,
                row.created_by,
                row.message,
                row.id == current,
            )
            for row in rows
        ]

    def _workflow_id(self, workflow: str) -> int:
        wf = tables.workflow
        with self.read() as conn:
            found = conn.execute(sa.select(wf.c.id).where(wf.c.name == workflow)).scalar()
            if found is None:
                names = conn.execute(sa.select(wf.c.name).order_by(wf.c.name).limit(20)).scalars()
                known = ", ".join(names) or "none yet"
                raise NotFound(f"no workflow named {workflow!r} (workflows: {known})")
        return found

    def find_version(self, workflow: str, version: str | None = None) -> WorkflowVersion:
        """A workflow's version by hash (or unique hash prefix); its current one when
        ``None``."""
        wv = tables.workflow_version
        found = self.workflow(workflow)
        query = sa.select(wv).where(wv.c.workflow_id == found.id).order_by(wv.c.id.desc())
        if version:
            query = query.where(wv.c.version.startswith(version, autoescape=True))
        else:
            query = query.where(wv.c.published)
            if found.current_version_id is not None:
                query = query.where(wv.c.id == found.current_version_id)
        with self.read() as conn:
            rows = conn.execute(query.limit(2)).all()
        if not rows or (version and len(rows) > 1 and rows[0].version != version):
            what = "ambiguous version" if rows else "no version"
            if not version:
                raise NotFound(f"workflow {workflow!r} has no published version yet")
            raise NotFound(f"workflow {workflow!r}: {what} {version!r}")
        return WorkflowVersion(**rows[0]._mapping)

    def workflow(self, name: str) -> Workflow:
        wf = tables.workflow
        with self.read() as conn:
            row = conn.execute(sa.select(wf).where(wf.c.name == name)).first()
        if row is None:
            self._workflow_id(name)  # raises, naming the known ones
        assert row is not None
        return from_row(Workflow, row._mapping)

    def make_current(self, workflow: str, version: str) -> WorkflowVersion:
        found = self.find_version(workflow, version)
        if not found.published:
            raise NotFound(
                f"workflow {workflow!r}: version {found.version} was only test-run as a "
                "draft, never published"
            )
        wf = tables.workflow
        with self.write() as conn:
            conn.execute(
                sa.update(wf)
                .where(wf.c.id == found.workflow_id)
                .values(current_version_id=found.id)
            )
        return found

    def draft(self, workflow: str) -> WorkflowDraft | None:
        workflow_id = self._workflow_id(workflow)
        wd = tables.workflow_draft
        with self.read() as conn:
            row = conn.execute(sa.select(wd).where(wd.c.workflow_id == workflow_id)).first()
        return None if row is None else from_row(WorkflowDraft, row._mapping)

    def save_draft(
        self, workflow: str, spec: dict, revision: int | None, by: str | None
    ) -> WorkflowDraft:
        for _ in range(3):
            try:
                with self.write() as conn:
                    return self._save_draft(conn, workflow, spec, revision, by)
            except IntegrityError:
                continue  # another first save won the race: the revision check decides
        raise RuntimeError(f"could not save the draft of workflow {workflow!r}")

    def _save_draft(
        self, conn: sa.Connection, workflow: str, spec: dict, revision: int | None, by: str | None
    ) -> WorkflowDraft:
        wf, wd = tables.workflow, tables.workflow_draft
        workflow_id = conn.execute(sa.select(wf.c.id).where(wf.c.name == workflow)).scalar()
        if workflow_id is None:
            workflow_id = conn.execute(
                sa.insert(wf).values(name=workflow, created_at=utcnow()).returning(wf.c.id)
            ).scalar_one()
        stored = conn.execute(
            self._for_update(sa.select(wd).where(wd.c.workflow_id == workflow_id))
        ).first()
        if (None if stored is None else stored.revision) != revision:
            raise DraftConflict(workflow, revision, None if stored is None else stored.revision)
        values = {"spec": spec, "updated_at": utcnow(), "updated_by": by and by[:200]}
        if stored is None:
            row = conn.execute(
                sa.insert(wd).values(workflow_id=workflow_id, revision=1, **values).returning(wd)
            ).one()
        else:
            # the revision in the WHERE too: a writer that did not lock (SQLite serialises
            # writers anyway) still cannot overwrite a newer save
            moved = conn.execute(
                sa.update(wd)
                .where(wd.c.id == stored.id, wd.c.revision == revision)
                .values(revision=wd.c.revision + 1, **values)
                .returning(wd)
            ).first()
            if moved is None:
                raise DraftConflict(workflow, revision, None)
            row = moved
        return from_row(WorkflowDraft, row._mapping)

    def discard_draft(self, workflow: str) -> bool:
        workflow_id = self._workflow_id(workflow)
        wd = tables.workflow_draft
        with self.write() as conn:
            return bool(conn.execute(sa.delete(wd).where(wd.c.workflow_id == workflow_id)).rowcount)

    def set_archived(self, workflow: str, archived: bool) -> Workflow:
        workflow_id = self._workflow_id(workflow)
        wf = tables.workflow
        with self.write() as conn:
            row = conn.execute(
                sa.update(wf)
                .where(wf.c.id == workflow_id)
                .values(archived_at=utcnow() if archived else None)
                .returning(wf)
            ).one()
        return from_row(Workflow, row._mapping)

    def delete_workflow(self, workflow: str) -> None:
        workflow_id = self._workflow_id(workflow)
        wf, wv, wd, r = tables.workflow, tables.workflow_version, tables.workflow_draft, tables.run
        sch, hook = tables.schedule, tables.webhook_endpoint
        with self.write() as conn:
            conn.execute(self._for_update(sa.select(wf.c.id).where(wf.c.id == workflow_id)))
            runs = conn.execute(
                sa.select(sa.func.count()).select_from(r).where(r.c.workflow_id == workflow_id)
            ).scalar_one()
            held = {
                "runs": runs,
                "schedules": conn.execute(
                    sa.select(sa.func.count())
                    .select_from(sch)
                    .where(sch.c.workflow_id == workflow_id)
                ).scalar_one(),
                "webhooks": conn.execute(
                    sa.select(sa.func.count())
                    .select_from(hook)
                    .where(hook.c.workflow_id == workflow_id)
                ).scalar_one(),
            }
            if any(held.values()):
                said = ", ".join(f"{n} {what}" for what, n in held.items() if n)
                raise RunStateError(
                    f"workflow {workflow!r} cannot be deleted: {said} reference it "
                    "(archive it instead, or delete its schedules and webhooks first)"
                )
            if parents := self._parents(conn, workflow, workflow_id):
                raise RunStateError(
                    f"workflow {workflow!r} cannot be deleted: {', '.join(parents)} run it as "
                    "a sub-graph (archive it instead)"
                )
            conn.execute(sa.delete(wd).where(wd.c.workflow_id == workflow_id))
            conn.execute(sa.delete(wv).where(wv.c.workflow_id == workflow_id))
            conn.execute(sa.delete(wf).where(wf.c.id == workflow_id))

    @staticmethod
    def _parents(conn: sa.Connection, workflow: str, workflow_id: int) -> list[str]:
        """The other workflows with a version running ``workflow`` as a sub-graph."""
        wf, wv = tables.workflow, tables.workflow_version
        # the name in the spec's stored text first (cheap: as json.dumps writes it, escapes
        # and all), then each node read to be sure
        text = json.dumps(workflow)[1:-1]
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = conn.execute(
            sa.select(wf.c.name, wv.c.spec)
            .join(wv, wv.c.workflow_id == wf.c.id)
            .where(
                wf.c.id != workflow_id,
                sa.cast(wv.c.spec, sa.Text).like(f"%{escaped}%", escape="\\"),
            )
        )
        return sorted(
            {
                name
                for name, spec in rows
                if any(
                    (n.get("subgraph") or {}).get("workflow") == workflow
                    for n in (spec or {}).get("nodes", [])
                )
            }
        )

    def run_page(
        self,
        *,
        workflow: str | None = None,
        status: str | Sequence[str] | None = None,
        trigger: str | None = None,
        owner: str | None = None,
        workflows: Collection[str] | None = None,
        limit: int = 50,
        offset: int = 0,
        after: tuple[dt.datetime, str] | None = None,
    ) -> tuple[list[RunRow], int]:
        r, wf, wv = tables.run, tables.workflow, tables.workflow_version
        conditions: list[Any] = []
        if workflow:
            conditions.append(wf.c.name == workflow)
        if workflows is not None:
            conditions.append(wf.c.name.in_(list(workflows)))
        if owner:
            conditions.append(r.c.owner == owner)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            conditions.append(r.c.status.in_(statuses))
        if trigger:
            conditions.append(r.c.trigger == trigger)
        page = (
            sa.select(
                r.c.id,
                wf.c.name.label("workflow"),
                wv.c.version,
                r.c.version_id,
                r.c.status,
                r.c.trigger,
                r.c.owner,
                r.c.created_at,
                r.c.started_at,
                r.c.ended_at,
                r.c.error,
                r.c.wake_at,
            )
            .join(wf, wf.c.id == r.c.workflow_id)
            .join(wv, wv.c.id == r.c.version_id)
            .where(*conditions)
            .order_by(r.c.created_at.desc(), r.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if after is not None:
            page = page.where(sa.tuple_(r.c.created_at, r.c.id) < sa.tuple_(*after))
        matching = sa.select(sa.literal(1)).select_from(r)
        if workflow or workflows is not None:
            matching = matching.join(wf, wf.c.id == r.c.workflow_id)
        capped = matching.where(*conditions).limit(COUNT_CAP + 1).subquery()
        count = sa.select(sa.func.count()).select_from(capped)
        with self.read() as conn:
            rows = conn.execute(page).all()
            total = conn.execute(count).scalar_one()
        return [
            RunRow(
                id=row.id,
                workflow=row.workflow,
                version=row.version,
                version_id=row.version_id,
                status=row.status,
                trigger=row.trigger,
                owner=row.owner,
                created_at=_utc(row.created_at),
                started_at=_utc(row.started_at),
                ended_at=_utc(row.ended_at),
                error=row.error,
                wake_at=_utc(row.wake_at),
            )
            for row in rows
        ], total

    def run_owners(self, limit: int = 200) -> list[str]:
        r = tables.run
        query = (
            sa.select(r.c.owner).where(r.c.owner.is_not(None)).distinct().order_by(r.c.owner)
        ).limit(limit)
        with self.read() as conn:
            return list(conn.execute(query).scalars())

    def run_ids_starting(self, prefix: str, limit: int = 10) -> list[str]:
        if not prefix or prefix.strip("0123456789abcdef"):
            return []  # ids are hex: nothing else matches (and no LIKE wildcard gets in)
        r = tables.run
        # a range on the primary key, not LIKE: an index seek on every database
        upper = prefix + "g"
        query = (
            sa.select(r.c.id).where(r.c.id >= prefix, r.c.id < upper).order_by(r.c.id).limit(limit)
        )
        with self.read() as conn:
            return list(conn.execute(query).scalars())

    # -- share links ------------------------------------------------------------------------

    def create_share_link(
        self,
        run_id: str,
        token_hash: str,
        *,
        expires_at: dt.datetime | None,
        created_by: str | None,
    ) -> ShareLink:
        s = tables.share_link
        with self.write() as conn:
            self._lock_run(conn, run_id)  # NotFound for an unknown run
            row = conn.execute(
                sa.insert(s)
                .values(
                    run_id=run_id,
                    token_hash=token_hash,
                    created_at=utcnow(),
                    expires_at=expires_at,
                    created_by=created_by,
                )
                .returning(s)
            ).one()
        return from_row(ShareLink, row._mapping)

    def share_links(self, run_id: str) -> list[ShareLink]:
        s = tables.share_link
        with self.read() as conn:
            rows = conn.execute(sa.select(s).where(s.c.run_id == run_id).order_by(s.c.id)).all()
        return [from_row(ShareLink, row._mapping) for row in rows]

    def share_link(self, token_hash: str) -> ShareLink | None:
        s = tables.share_link
        with self.read() as conn:
            row = conn.execute(sa.select(s).where(s.c.token_hash == token_hash)).first()
        return None if row is None else from_row(ShareLink, row._mapping)

    def revoke_share_link(self, link_id: int, *, run_id: str | None = None) -> bool:
        s = tables.share_link
        match = [s.c.id == link_id, s.c.revoked_at.is_(None)]
        if run_id is not None:
            match.append(s.c.run_id == run_id)
        with self.write() as conn:
            return bool(
                conn.execute(sa.update(s).where(*match).values(revoked_at=utcnow())).rowcount
            )

    # -- retention --------------------------------------------------------------------------

    def expired_runs(self, before: dt.datetime, *, keep_failed: bool, limit: int) -> list[str]:
        r = tables.run
        done = sorted(tables.RUN_FINISHED - ({"failed"} if keep_failed else set()))
        query = (
            sa.select(r.c.id)
            .where(r.c.status.in_(done), r.c.ended_at < before)
            .order_by(r.c.ended_at, r.c.id)
            .limit(limit)
        )
        with self.read() as conn:
            return list(conn.execute(query).scalars())

    def purge_runs(self, run_ids: Sequence[str], *, before: dt.datetime) -> Purged:
        r, n, e, d, s = (
            tables.run,
            tables.node_run,
            tables.event,
            tables.document,
            tables.share_link,
        )
        out = Purged()
        with self.write() as conn:
            # re-checked under the lock: a run retried or resumed since it was listed stays
            ids = list(
                conn.execute(
                    self._for_update(
                        sa.select(r.c.id).where(
                            r.c.id.in_(run_ids), r.c.status.in_(tables.RUN_FINISHED)
                        )
                    )
                ).scalars()
            )
            if not ids:
                return out
            hashes = set(
                conn.execute(
                    sa.select(n.c.output_blob).where(
                        n.c.run_id.in_(ids), n.c.output_blob.is_not(None)
                    )
                ).scalars()
            )
            hashes |= set(
                conn.execute(
                    sa.select(d.c.value_blob).where(
                        d.c.run_id.in_(ids), d.c.value_blob.is_not(None)
                    )
                ).scalars()
            )
            for inputs in conn.execute(sa.select(r.c.inputs).where(r.c.id.in_(ids))).scalars():
                hashes |= {ref["blob"] for ref in inputs.values() if "blob" in ref}
            out.share_links = conn.execute(sa.delete(s).where(s.c.run_id.in_(ids))).rowcount
            out.documents = conn.execute(sa.delete(d).where(d.c.run_id.in_(ids))).rowcount
            out.events = conn.execute(sa.delete(e).where(e.c.run_id.in_(ids))).rowcount
            nc = tables.node_cache  # entries filing these attempts would only ever miss
            conn.execute(
                sa.delete(nc).where(
                    nc.c.node_run_id.in_(sa.select(n.c.id).where(n.c.run_id.in_(ids)))
                )
            )
            out.attempts = conn.execute(sa.delete(n).where(n.c.run_id.in_(ids))).rowcount
            out.runs = conn.execute(sa.delete(r).where(r.c.id.in_(ids))).rowcount
        if hashes:
            out.blobs, out.blob_bytes = self._purge_blobs(sorted(hashes), before)
        return out

    def _purge_blobs(self, hashes: list[str], before: dt.datetime) -> tuple[int, int]:
        b, n, d, r = tables.blob, tables.node_run, tables.document, tables.run
        # a run created since ``before`` that holds the blob touched it when it stored it,
        # so only older runs' inputs (kept failed ones, unfinished ones) need reading
        referenced_by_inputs = sa.exists().where(
            r.c.created_at < before,
            sa.cast(r.c.inputs, sa.Text).contains(b.c.hash),
        )
        with self.write() as conn:
            rows = conn.execute(
                sa.delete(b)
                .where(
                    b.c.hash.in_(hashes),
                    b.c.created_at < before,
                    ~sa.exists().where(n.c.output_blob == b.c.hash),
                    ~sa.exists().where(d.c.value_blob == b.c.hash),
                    ~referenced_by_inputs,
                )
                .returning(b.c.size)
            ).scalars()
            sizes = list(rows)
        return len(sizes), sum(sizes)

    # -- schedules --------------------------------------------------------------------------

    def create_schedule(self, workflow: str, schedule: Schedule) -> Schedule:
        sc = tables.schedule
        workflow_id = self._workflow_id(workflow)
        fields = schedule.model_dump(exclude={"id"}) | {"workflow_id": workflow_id}
        with self.write() as conn:
            if schedule.key is not None:
                found = conn.execute(
                    self._for_update(
                        sa.select(sc).where(
                            sc.c.workflow_id == workflow_id, sc.c.key == schedule.key
                        )
                    )
                ).first()
                if found is not None:
                    kept = ("cron", "tz", "inputs", "version", "overlap", "catchup")
                    changes = {k: fields[k] for k in kept}
                    conn.execute(sa.update(sc).where(sc.c.id == found.id).values(**changes))
                    return from_row(Schedule, {**found._mapping, **changes})
            new_id = conn.execute(sa.insert(sc).values(**fields).returning(sc.c.id)).scalar_one()
        return from_row(Schedule, {**fields, "id": new_id})

    def schedules(self, workflow: str | None = None) -> list[tuple[Schedule, str]]:
        sc, wf = tables.schedule, tables.workflow
        query = (
            sa.select(sc, wf.c.name.label("workflow_name"))
            .join(wf, wf.c.id == sc.c.workflow_id)
            .order_by(sc.c.id)
        )
        if workflow is not None:
            query = query.where(wf.c.name == workflow)
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [_named(Schedule, row) for row in rows]

    def get_schedule(self, schedule_id: int) -> tuple[Schedule, str]:
        sc, wf = tables.schedule, tables.workflow
        query = (
            sa.select(sc, wf.c.name.label("workflow_name"))
            .join(wf, wf.c.id == sc.c.workflow_id)
            .where(sc.c.id == schedule_id)
        )
        with self.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id}")
        return _named(Schedule, row)

    def set_schedule_paused(self, schedule_id: int, paused: bool) -> Schedule:
        sc = tables.schedule
        changes: dict[str, Any] = {"paused": paused}
        if not paused:
            changes["last_fire_at"] = utcnow()
        with self.write() as conn:
            row = conn.execute(
                self._for_update(sa.select(sc).where(sc.c.id == schedule_id))
            ).first()
            if row is None:
                raise NotFound(f"no schedule with id {schedule_id}")
            if row.paused == paused:
                return from_row(Schedule, row._mapping)
            conn.execute(sa.update(sc).where(sc.c.id == schedule_id).values(**changes))
        return from_row(Schedule, {**row._mapping, **changes})

    def delete_schedule(self, schedule_id: int) -> None:
        sc, sf = tables.schedule, tables.schedule_fire
        with self.write() as conn:
            conn.execute(sa.delete(sf).where(sf.c.schedule_id == schedule_id))
            if not conn.execute(sa.delete(sc).where(sc.c.id == schedule_id)).rowcount:
                raise NotFound(f"no schedule with id {schedule_id}")

    def fire_schedule(
        self,
        schedule_id: int,
        fire_at: dt.datetime,
        outcome: str,
        new_run: NewRun | None,
        inline_limit: int,
        error: str | None = None,
    ) -> tuple[Run | None, list[EventDict]] | None:
        sc, sf = tables.schedule, tables.schedule_fire
        try:
            with self.write() as conn:
                # the unique (schedule, fire time) is the guard: a second scheduler's insert
                # fails here and its run is never written
                fire_id = conn.execute(
                    sa.insert(sf)
                    .values(
                        schedule_id=schedule_id,
                        fire_at=fire_at,
                        outcome=outcome,
                        run_id=None,
                        error=error,
                        fired_at=utcnow(),
                    )
                    .returning(sf.c.id)
                ).scalar_one()
                run: Run | None = None
                events: list[EventDict] = []
                if new_run is not None:
                    run, events = self._insert_run(conn, new_run, inline_limit)
                    conn.execute(sa.update(sf).where(sf.c.id == fire_id).values(run_id=run.id))
                conn.execute(
                    sa.update(sc)
                    .where(
                        sc.c.id == schedule_id,
                        sa.or_(sc.c.last_fire_at.is_(None), sc.c.last_fire_at < fire_at),
                    )
                    .values(last_fire_at=fire_at)
                )
        except IntegrityError:
            return None
        return run, events

    def start_pending_fire(
        self, fire_id: int, new_run: NewRun, inline_limit: int
    ) -> tuple[Run, list[EventDict]] | None:
        sf = tables.schedule_fire
        with self.write() as conn:
            taken = conn.execute(
                sa.update(sf)
                .where(sf.c.id == fire_id, sf.c.outcome == "pending")
                .values(outcome="started", fired_at=utcnow())
            ).rowcount
            if not taken:
                return None
            run, events = self._insert_run(conn, new_run, inline_limit)
            conn.execute(sa.update(sf).where(sf.c.id == fire_id).values(run_id=run.id))
        return run, events

    def schedule_fires(
        self, schedule_id: int, limit: int = 20, *, outcome: str | None = None
    ) -> list[ScheduleFire]:
        sf = tables.schedule_fire
        query = (
            sa.select(sf)
            .where(sf.c.schedule_id == schedule_id)
            .order_by(sf.c.fire_at.desc())
            .limit(limit)
        )
        if outcome is not None:
            query = query.where(sf.c.outcome == outcome)
        with self.read() as conn:
            return [from_row(ScheduleFire, r._mapping) for r in conn.execute(query)]

    def schedule_active_runs(self, schedule_id: int) -> int:
        r = tables.run
        query = sa.select(sa.func.count()).where(
            r.c.trigger_ref == f"schedule:{schedule_id}",
            r.c.status.not_in(sorted(tables.RUN_FINISHED)),
        )
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    # -- admission --------------------------------------------------------------------------

    def set_run_limit(self, workflow: str, max_concurrent_runs: int | None) -> None:
        w = tables.workflow
        with self.write() as conn:
            changed = conn.execute(
                sa.update(w)
                .where(w.c.name == workflow)
                .values(max_concurrent_runs=max_concurrent_runs)
            ).rowcount
        if not changed:
            raise NotFound(f"no workflow named {workflow!r}")

    def _admitted(self, conn: sa.Connection, run: Run) -> bool:
        """Whether the queued ``run`` may start now (see ``set_run_limit``), under the
        workflow row's lock so concurrent admissions count one after the other."""
        w, r = tables.workflow, tables.run
        limit = conn.execute(
            self._for_update(sa.select(w.c.max_concurrent_runs).where(w.c.id == run.workflow_id))
        ).scalar()
        if limit is None:
            return True
        ahead = sa.or_(
            r.c.priority > run.priority,
            sa.and_(
                r.c.priority == run.priority,
                sa.or_(
                    r.c.created_at < run.created_at,
                    sa.and_(r.c.created_at == run.created_at, r.c.id < run.id),
                ),
            ),
        )
        taken = conn.execute(
            sa.select(sa.func.count()).where(
                r.c.workflow_id == run.workflow_id,
                sa.or_(
                    r.c.status.in_(sorted(RUN_HOLDING_A_SLOT)),
                    sa.and_(r.c.status == "queued", r.c.id != run.id, ahead),
                ),
            )
        ).scalar_one()
        return bool(taken < limit)

    def admissible_runs(self, workflow_id: int) -> list[str] | None:
        w, r = tables.workflow, tables.run
        with self.read() as conn:
            limit = conn.execute(
                sa.select(w.c.max_concurrent_runs).where(w.c.id == workflow_id)
            ).scalar()
            if limit is None:
                return None
            active = conn.execute(
                sa.select(sa.func.count()).where(
                    r.c.workflow_id == workflow_id, r.c.status.in_(sorted(RUN_HOLDING_A_SLOT))
                )
            ).scalar_one()
            if active >= limit:
                return []
            return list(
                conn.execute(
                    sa.select(r.c.id)
                    .where(r.c.workflow_id == workflow_id, r.c.status == "queued")
                    .order_by(r.c.priority.desc(), r.c.created_at, r.c.id)
                    .limit(limit - active)
                ).scalars()
            )

    # -- webhooks -----------------------------------------------------------------------------

    def create_webhook(self, endpoint: WebhookEndpoint, ciphertext: bytes) -> WebhookEndpoint:
        with self.write() as conn:
            conn.execute(sa.insert(tables.webhook_endpoint).values(**endpoint.model_dump()))
            conn.execute(
                sa.insert(tables.webhook_secret).values(
                    endpoint_id=endpoint.id, ciphertext=ciphertext, created_at=endpoint.created_at
                )
            )
        return endpoint

    def webhooks(self, workflow: str | None = None) -> list[tuple[WebhookEndpoint, str]]:
        e, w = tables.webhook_endpoint, tables.workflow
        query = (
            sa.select(e, w.c.name.label("workflow_name"))
            .join(w, w.c.id == e.c.workflow_id)
            .order_by(e.c.created_at, e.c.id)
        )
        if workflow is not None:
            query = query.where(w.c.name == workflow)
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [_named(WebhookEndpoint, row) for row in rows]

    def webhook_target(self, endpoint_id: str, now: dt.datetime) -> WebhookTarget | None:
        e, w, s = tables.webhook_endpoint, tables.workflow, tables.webhook_secret
        wv = tables.workflow_version
        with self.read() as conn:
            row = conn.execute(
                sa.select(e, w.c.name.label("workflow_name"))
                .join(w, w.c.id == e.c.workflow_id)
                .where(e.c.id == endpoint_id)
            ).first()
            if row is None:
                return None
            ciphertexts = list(
                conn.execute(
                    sa.select(s.c.ciphertext)
                    .where(
                        s.c.endpoint_id == endpoint_id,
                        sa.or_(s.c.expires_at.is_(None), s.c.expires_at > now),
                    )
                    .order_by(s.c.id.desc())
                ).scalars()
            )
            version = sa.select(wv.c.id, wv.c.spec).where(wv.c.workflow_id == row.workflow_id)
            if row.version is not None:
                version = version.where(wv.c.version == row.version)
            found = conn.execute(version.order_by(wv.c.id.desc()).limit(1)).first()
        endpoint, name = _named(WebhookEndpoint, row)
        return WebhookTarget(
            endpoint,
            name,
            ciphertexts,
            found.id if found else None,
            found.spec if found else {},
        )

    def rotate_webhook_secret(
        self, endpoint_id: str, ciphertext: bytes, old_until: dt.datetime
    ) -> None:
        e, s = tables.webhook_endpoint, tables.webhook_secret
        now = utcnow()
        with self.write() as conn:
            if (
                conn.execute(
                    self._for_update(sa.select(e.c.id).where(e.c.id == endpoint_id))
                ).first()
                is None
            ):
                raise NotFound(f"no webhook endpoint {endpoint_id!r}")
            conn.execute(
                sa.update(s)
                .where(
                    s.c.endpoint_id == endpoint_id,
                    sa.or_(s.c.expires_at.is_(None), s.c.expires_at > old_until),
                )
                .values(expires_at=old_until)
            )
            conn.execute(
                sa.insert(s).values(endpoint_id=endpoint_id, ciphertext=ciphertext, created_at=now)
            )

    def delete_webhook(self, endpoint_id: str) -> bool:
        e = tables.webhook_endpoint
        with self.write() as conn:
            for table in (tables.webhook_delivery, tables.webhook_secret):
                conn.execute(sa.delete(table).where(table.c.endpoint_id == endpoint_id))
            return bool(conn.execute(sa.delete(e).where(e.c.id == endpoint_id)).rowcount)

    def claim_delivery(
        self, endpoint_id: str, message_id: str, webhook_id: str | None, verdict: str, run_id: str
    ) -> tuple[int, str | None, bool]:
        d = tables.webhook_delivery
        with self.write() as conn:
            inserted = conn.execute(
                self._insert(d)
                .values(
                    endpoint_id=endpoint_id,
                    received_at=utcnow(),
                    webhook_id=webhook_id,
                    message_id=message_id,
                    status_code=202,
                    verdict=verdict,
                    run_id=run_id,
                )
                .on_conflict_do_nothing(index_elements=["endpoint_id", "message_id"])
                .returning(d.c.id)
            ).scalar()
            if inserted is not None:
                return int(inserted), run_id, True
            row = conn.execute(
                sa.select(d.c.id, d.c.run_id).where(
                    d.c.endpoint_id == endpoint_id, d.c.message_id == message_id
                )
            ).one()
        return int(row.id), row.run_id, False

    def finish_delivery(
        self, delivery_id: int, *, run_id: str | None, status_code: int, error: str | None
    ) -> None:
        d = tables.webhook_delivery
        changes: dict[str, Any] = {"run_id": run_id, "status_code": status_code, "error": error}
        if run_id is None:
            changes["message_id"] = None
        with self.write() as conn:
            conn.execute(sa.update(d).where(d.c.id == delivery_id).values(**changes))

    def record_delivery(self, delivery: WebhookDelivery) -> int:
        fields = delivery.model_dump(exclude={"id"})
        with self.write() as conn:
            return int(
                conn.execute(
                    sa.insert(tables.webhook_delivery)
                    .values(**fields)
                    .returning(tables.webhook_delivery.c.id)
                ).scalar_one()
            )

    def deliveries(self, endpoint_id: str, limit: int = 20) -> list[WebhookDelivery]:
        d = tables.webhook_delivery
        with self.read() as conn:
            rows = conn.execute(
                sa.select(d)
                .where(d.c.endpoint_id == endpoint_id)
                .order_by(d.c.received_at.desc(), d.c.id.desc())
                .limit(limit)
            ).all()
        return [from_row(WebhookDelivery, row._mapping) for row in rows]

    # -- what the dialects do their own way -------------------------------------------------

    _insert: Callable[[sa.Table], Any]
    """The dialect's INSERT construct (whose ``on_conflict_do_update`` stores a blob once)."""

    def _for_update(self, query: sa.Select) -> sa.Select:
        """``query`` locking the rows it reads against every other lock (a run's status
        changes); where writers are serialised anyway, as it is."""
        return query

    def _for_key_share(self, query: sa.Select) -> sa.Select:
        """``query`` locking the rows it reads against ``_for_update`` only (a pass's fence:
        checkpoints of one run need not wait for each other's heartbeat)."""
        return query

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
        """A checkpoint written the dialect's fastest way, or ``None`` to write it statement
        by statement (fence first)."""
        return None

    def leader(self, name: str) -> Leadership:
        return _Always()


class _Always(Leadership):
    """Where one database serves one host (SQLite), every process may lead: the run leases
    keep passes exclusive."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


def _utc(value: dt.datetime | None) -> Any:
    # SQLite hands back naive datetimes from Core queries; they were written as UTC
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
