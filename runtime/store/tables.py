"""SQLModel tables. Storage grows with the number of nodes run, never with nodes x state size:
a node's output is written once, in the row that checkpoints it (or once in ``blob``)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any, Literal, TypedDict, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm
from sqlmodel import Field, SQLModel

from runtime import clock
from runtime.statuses import RUN_FINISHED, NodeStatus, RunStatus

__all__ = ["RUN_FINISHED", "NodeStatus", "RunStatus"]

Trigger = Literal["sdk", "cli", "studio", "api", "webhook", "schedule"]


M = TypeVar("M", bound=SQLModel)


def from_row(model: type[M], row: Mapping[Any, Any]) -> M:
    """A stored row as its model, without validating again what the database holds: a tenth
    of the model's constructor's cost (reads of runs and attempts are on every hot path)."""
    obj = _managers(model).new_instance()
    obj.__dict__.update(row)
    object.__setattr__(obj, "__pydantic_fields_set__", set(row))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


@functools.cache
def _managers(model: type[SQLModel]) -> Any:
    return sa.orm.class_mapper(model).class_manager


def utcnow() -> dt.datetime:
    # the installed clock (``runtime.clock``): a test's clock moves every stored time too
    return clock.now()


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime(), **kw)


class Workflow(SQLModel, table=True):
    """A graph name; its code lives in versions."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    max_concurrent_runs: int | None = None
    """At most this many of its runs are ``running`` or ``waiting`` at once; the others wait
    ``queued`` and are admitted highest ``priority`` first, then oldest first. ``None``: no
    limit."""
    current_version_id: int | None = None
    """The version triggers (schedules, webhooks, sub-graph references) and runs by name
    start unless pinned: set when a version is first published and by ``make current``
    (a rollback). ``None``: the latest published (workflows stored before it was kept)."""
    archived_at: dt.datetime | None = _ts(default=None)
    """Set while archived: hidden from the workflow list, its versions kept."""


class WorkflowVersion(SQLModel, table=True):
    """An immutable published graph: spec plus signed code. Runs reference one."""

    __tablename__ = "workflow_version"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: int = Field(foreign_key="workflow.id", index=True)
    version: str = Field(max_length=64)
    """Content hash of spec + node code (``Graph.version``)."""
    spec: dict = Field(sa_type=sa.JSON)
    code: bytes = Field(sa_type=sa.LargeBinary)
    """The graph, cloudpickled and Ed25519-signed (``runtime.codesign``): importable functions
    travel by reference. Empty when the graph could not be pickled."""
    key_id: str | None = Field(default=None, max_length=16)
    """Id of the key that signed ``code`` (also in its header); ``None`` for empty code and
    code signed before keys had ids (the retired HMAC scheme)."""
    created_at: dt.datetime = _ts(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=200)
    """Who published it first: a user or a key (the API), ``cli:<os user>`` (the embedded SDK
    or the CLI); ``None`` for versions published before publishers were recorded."""
    node_digests: dict | None = Field(default=None, sa_type=sa.JSON)
    """Node name -> digest of its spec entry and of the code it runs (``Graph.node_digests``):
    what a replay compares to tell which nodes' code changed. ``None`` for versions stored
    before digests were kept (a replay then computes them from the loaded code)."""
    node_sources: dict | None = Field(default=None, sa_type=sa.JSON)
    """Node name -> the source text of the code it runs (``Graph.node_sources``), for the
    nodes whose kind has one: what the studio shows and diffs without loading ``code``. Not
    part of ``version``. ``None`` for versions stored before sources were kept, and for those
    whose publisher sent none (the remote SDK before it did)."""
    message: str | None = Field(default=None, max_length=2000)
    """What the publisher said changed (``publish_draft``); ``None`` for versions published
    from Python code."""
    # the database fills it (server default): no insert names it, so rows written by code
    # older than the column (or tests at an older revision) still go in
    published: bool = Field(
        default=True, sa_column_kwargs={"server_default": sa.true(), "default": None}
    )
    """``False`` for a version stored only to test-run a draft: not listed, never current,
    until the same content is published."""


class Run(SQLModel, table=True):
    """One execution of a workflow version.

    Status moves ``queued -> running -> (waiting <-> running) -> succeeded | failed |
    cancelled``. While ``running`` one process holds the lease (``lease_owner`` until
    ``lease_until``); only it writes node rows.
    """

    # each filter of the runs list with the list's order, so a page of a store with millions
    # of runs reads one index range (``run_page``)
    __table_args__ = (
        sa.Index("ix_run_workflow_created", "workflow_id", "created_at"),
        sa.Index("ix_run_status_created", "status", "created_at"),
        sa.Index("ix_run_trigger_created", "trigger", "created_at"),
        sa.Index("ix_run_owner_created", "owner", "created_at"),
        sa.Index("ix_run_parent_run_id", "parent_run_id"),
        # what ``release_due`` asks each round: the parked runs whose wake time has come
        sa.Index("ix_run_status_wake", "status", "wake_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    workflow_id: int = Field(foreign_key="workflow.id")
    version_id: int = Field(foreign_key="workflow_version.id")
    status: str = Field(max_length=16)
    inputs: dict = Field(sa_type=sa.JSON)
    """Input name -> stored value reference (see ``runtime.store.values``)."""
    error: str | None = None
    trigger: str = Field(default="sdk", max_length=16)
    trigger_ref: str | None = Field(default=None, max_length=200)
    """What started it, for triggers that have an identity: ``schedule:<id>``,
    ``delivery:<id>``; ``None`` for runs started by a person or a program."""
    owner: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow, index=True)
    started_at: dt.datetime | None = _ts(default=None)
    ended_at: dt.datetime | None = _ts(default=None)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: dt.datetime | None = _ts(default=None)
    lease_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Fencing token: raised by every acquire, so a pass that lost the run can never commit
    (each of its writes requires the epoch it acquired)."""
    cancel_requested: bool = False
    retry_floor: int | None = None
    """The highest attempt row id when the run was last retried (``None``: never): attempts
    up to it that did not succeed are started again, and their failures no longer count
    against the node's ``retries``."""
    targets: list | None = Field(default=None, sa_type=sa.JSON)
    """The outputs the run was asked for (``outputs=``): only they and the nodes they need
    run, the others are ``not_needed``. ``None``: every node."""
    start_at: dt.datetime | None = _ts(default=None)
    """When a delayed run (status ``scheduled``) becomes ``queued``; ``None`` for the rest."""
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Among a limited workflow's queued runs, higher ones are admitted first."""
    parent_run_id: str | None = Field(default=None, max_length=32)
    """The run whose sub-graph node started this one (``runtime.nodes.subgraph``); its end
    completes that node. ``None`` for a run started any other way."""
    parent_node: str | None = Field(default=None, max_length=200)
    """The sub-graph node of ``parent_run_id`` this run is the child of."""
    wake_at: dt.datetime | None = _ts(default=None)
    """A parked run (``sleeping``, or ``waiting`` on a wait with a timeout): when
    ``release_due`` queues it again (ending its parked attempts due by then, so what was due
    by the waker's clock is over whatever the next pass's clock says). ``None`` for the
    rest."""
    replay_of: str | None = Field(default=None, max_length=32, index=True)
    """The run this one replays (``Run.replay``): its unchanged nodes' checkpoints were
    reused from it. No foreign key: retention may delete the source first."""


class NodeRun(SQLModel, table=True):
    """One attempt of one node: the checkpoint.

    Written ``running`` when the attempt starts; its success and its output are committed
    in one transaction, so a ``succeeded`` row always has its output. Resume loads the
    latest attempt of each node and runs what is not ``succeeded``.
    """

    __tablename__ = "node_run"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "node", "attempt"),
        # only rows with a large value: what retention asks before it deletes a blob
        sa.Index(
            "ix_node_run_output_blob",
            "output_blob",
            postgresql_where=sa.text("output_blob IS NOT NULL"),
            sqlite_where=sa.text("output_blob IS NOT NULL"),
        ),
        # a map's element rows, read per map node in one range (``element_attempts``)
        sa.Index(
            "ix_node_run_element",
            "run_id",
            "element",
            postgresql_where=sa.text("element IS NOT NULL"),
            sqlite_where=sa.text("element IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", max_length=32)
    node: str = Field(max_length=200)
    """The node; for an element attempt of a map node ``squares``, ``squares[17]``."""
    attempt: int
    status: str = Field(max_length=16)
    started_at: dt.datetime | None = _ts(default=None)
    ended_at: dt.datetime | None = _ts(default=None)
    output_codec: str | None = Field(default=None, max_length=32)
    output_inline: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    output_blob: str | None = Field(default=None, max_length=64)
    output_size: int | None = None
    error_type: str | None = Field(default=None, max_length=200)
    error_message: str | None = None
    traceback: str | None = None
    logs: str | None = None
    will_retry: bool = False
    """A failed attempt that another attempt will follow (the node is ``retrying``)."""
    retry_at: dt.datetime | None = _ts(default=None)
    """When that next attempt is due (a failed attempt with ``will_retry``)."""
    answered_by: str | None = Field(default=None, max_length=200)
    """Who submitted a wait node's payload."""
    owner: str | None = Field(default=None, max_length=200)
    """The process executing this attempt."""
    isolation: str | None = Field(default=None, max_length=16)
    """Where the attempt's code ran: ``thread`` (in the owner's process) or ``process`` (in a
    child process of the owner)."""
    lease_until: dt.datetime | None = _ts(default=None)
    """While the attempt's code is still executing somewhere: renewed by the owner's heartbeat,
    cleared once the call has returned or is known dead. A node is started again only when no
    earlier attempt of it holds a live lease, so two attempts of a node never overlap."""
    element: int | None = None
    """Set on the attempt of one element of a map node (its index in the mapped list):
    such rows are the map's own checkpoints, left out of a run's node attempts
    (``Store.attempts``) and read with ``Store.element_attempts``."""
    wake_at: dt.datetime | None = _ts(default=None)
    """A ``sleeping`` attempt: when its sleep ends; a ``waiting`` one with a timeout: when it
    times out. Then it becomes ``succeeded`` with the output stored when it started (a
    sleep's wake time, a wait's default answer) or, with none, ``failed``
    (``TimeoutError``)."""
    reused_from: int | None = None
    """A replay's checkpoint taken from its source run: the id of the source's attempt whose
    output this row references (the same inline bytes or blob, never a copy of a blob)."""
    cached_from: int | None = None
    """A cache hit (``@g.node(cache=...)``): the id of the earlier succeeded attempt whose
    output this one took instead of running; the views show the node ``cached``."""


class Event(SQLModel, table=True):
    """Append-only log of state changes; ``seq`` counts up per run from 1 without gaps."""

    run_id: str = Field(primary_key=True, max_length=32)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    type: str = Field(max_length=40)
    node: str | None = Field(default=None, max_length=200)
    data: dict = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: dt.datetime = _ts(default_factory=utcnow)


class EventDict(TypedDict):
    """An event as readers and the bus see it."""

    run_id: str
    seq: int
    type: str
    node: str | None
    data: dict[str, Any]
    at: float
    """Unix time the event was written."""


def event_dict(row: Any) -> EventDict:
    return {
        "run_id": row.run_id,
        "seq": row.seq,
        "type": row.type,
        "node": row.node,
        "data": row.data,
        "at": row.created_at.timestamp(),
    }


class Blob(SQLModel, table=True):
    """Large encoded values, stored once per content hash."""

    hash: str = Field(primary_key=True, max_length=64)
    size: int
    data: bytes = Field(sa_type=sa.LargeBinary)
    created_at: dt.datetime = _ts(default_factory=utcnow)


class PickleKey(SQLModel, table=True):
    """Ids of the pickle keys (``PLAIT_SECRET_KEY``) that signed stored values, so a process
    without the key is told which one the store expects instead of minting another."""

    __tablename__ = "pickle_key"

    key_id: str = Field(primary_key=True, max_length=16)
    """``runtime.signing.key_id`` of the key; ``unrecorded`` for values pickled before ids
    were kept."""
    first_used_at: dt.datetime = _ts(default_factory=utcnow)


def _table(model: type[SQLModel]) -> sa.Table:
    return model.__table__  # type: ignore[attr-defined]


class WorkflowDraft(SQLModel, table=True):
    """The one server-side draft of a workflow: a spec of library nodes (``runtime.drafts``)
    that editors save with the revision they started from."""

    __tablename__ = "workflow_draft"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: int = Field(foreign_key="workflow.id", unique=True)
    revision: int = 1
    """Counts saves; a save naming an older revision is refused (``DraftConflict``)."""
    spec: dict = Field(sa_type=sa.JSON)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=200)


workflow = _table(Workflow)
workflow_version = _table(WorkflowVersion)
workflow_draft = _table(WorkflowDraft)
run = _table(Run)
node_run = _table(NodeRun)
event = _table(Event)
blob = _table(Blob)
pickle_key = _table(PickleKey)


class ShareLink(SQLModel, table=True):
    """A read-only link to one run. Only the token's SHA-256 is stored."""

    __tablename__ = "share_link"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", max_length=32, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    expires_at: dt.datetime | None = _ts(default=None)
    revoked_at: dt.datetime | None = _ts(default=None)
    created_by: str | None = Field(default=None, max_length=200)


share_link = _table(ShareLink)


class NodeCache(SQLModel, table=True):
    """Node result cache: a key (a node's digest and its input values' hashes,
    ``runtime.cache``) -> the succeeded attempt whose output a later attempt may reuse."""

    __tablename__ = "node_cache"

    key: str = Field(primary_key=True, max_length=64)
    workflow: str = Field(max_length=200, index=True)
    node: str = Field(max_length=200)
    node_run_id: int
    """No foreign key: retention deletes old runs' attempts without looking here, and a
    lookup joins ``node_run``, so an entry whose attempt is gone is a miss."""
    created_at: dt.datetime = _ts(default_factory=utcnow)
    """When the entry was recorded; a ``cache=timedelta`` node reuses it only that long."""


node_cache = _table(NodeCache)


class Document(SQLModel, table=True):
    """A named artifact a node saved while running (text, markdown, table, image, JSON).
    Saving the same name again from the same node replaces it."""

    __table_args__ = (
        sa.UniqueConstraint("run_id", "node", "name"),
        sa.Index(
            "ix_document_value_blob",
            "value_blob",
            postgresql_where=sa.text("value_blob IS NOT NULL"),
            sqlite_where=sa.text("value_blob IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", max_length=32)
    node: str = Field(max_length=200)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    value_codec: str = Field(max_length=32)
    value_inline: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    value_blob: str | None = Field(default=None, max_length=64)
    value_size: int
    created_at: dt.datetime = _ts(default_factory=utcnow)


document = _table(Document)


# -- access: people, their sessions, API keys, secrets and the audit log ---------------------


class Account(SQLModel, table=True):
    """A person who logs in. Only an argon2 hash of the password is stored."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)
    """``admin``, ``editor`` or ``viewer`` (``runtime.auth.roles``)."""
    password_hash: str = Field(max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=200)
    password_changed_at: dt.datetime = _ts(default_factory=utcnow)
    disabled_at: dt.datetime | None = _ts(default=None)
    """A disabled account cannot log in, and its sessions and keys stop working."""


class LoginSession(SQLModel, table=True):
    """A studio login. Only the SHA-256 of its cookie's token is stored."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    last_seen_at: dt.datetime = _ts(default_factory=utcnow)
    """Renewed (at most once a minute) by use; idle past ``session_idle_seconds``, it ends."""
    expires_at: dt.datetime = _ts()
    """The absolute end: ``created_at`` + ``session_max_seconds``."""
    revoked_at: dt.datetime | None = _ts(default=None)
    address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class ApiKey(SQLModel, table=True):
    """A key for ``/api/v1`` (``plait_<id>_<secret>``). Only the SHA-256 of the secret is
    stored."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=16)
    """The public part of the token; names the key in lists and in who-did-it."""
    secret_hash: str = Field(max_length=64)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    workflows: list | None = Field(default=None, sa_type=sa.JSON)
    """When set, the only workflows the key reaches."""
    created_by: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    expires_at: dt.datetime | None = _ts(default=None)
    revoked_at: dt.datetime | None = _ts(default=None)
    last_used_at: dt.datetime | None = _ts(default=None)
    """Renewed at most once a minute."""


class Secret(SQLModel, table=True):
    """A named credential for nodes, Fernet-encrypted (``runtime.secrets``)."""

    name: str = Field(primary_key=True, max_length=100)
    ciphertext: bytes = Field(sa_type=sa.LargeBinary)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=200)
    updated_at: dt.datetime = _ts(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=200)


class AuditEntry(SQLModel, table=True):
    """Who did what, when, from where: admin actions and every state-changing request."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _ts(default_factory=utcnow, index=True)
    actor: str | None = Field(default=None, max_length=200)
    """A user's name, ``key:<id>``, ``local`` or ``cli:<os user>``; ``None``: nobody known."""
    action: str = Field(max_length=80)
    target: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=16)
    """``ok``, ``denied`` or ``failed``."""
    detail: dict = Field(default_factory=dict, sa_type=sa.JSON)


class Leader(SQLModel, table=True):
    """A leadership held as a lease (behind a transaction pooler, where a session-level
    advisory lock cannot be kept): ``holder`` leads until ``until``, renewing it."""

    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)
    until: dt.datetime = _ts()


leader = _table(Leader)
account = _table(Account)
login_session = _table(LoginSession)
api_key = _table(ApiKey)
secret = _table(Secret)
audit_log = _table(AuditEntry)


# -- schedules: cron triggers and the fires they made ------------------------------------------

Overlap = Literal["skip", "allow", "queue_one"]
"""What a schedule does at a fire time while its previous run is still unfinished: ``skip``
the fire, ``allow`` another run, or ``queue_one`` (keep one fire waiting, started once the
previous run finishes)."""
FireOutcome = Literal["started", "skipped", "pending", "failed"]


class Schedule(SQLModel, table=True):
    """A cron trigger of one workflow."""

    __table_args__ = (sa.UniqueConstraint("workflow_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: int = Field(foreign_key="workflow.id", index=True)
    version: str | None = Field(default=None, max_length=64)
    """The version hash it starts; ``None``: the latest at each fire time."""
    cron: str = Field(max_length=200)
    tz: str = Field(default="UTC", max_length=64)
    """IANA time zone the cron expression is read in (``zoneinfo``)."""
    inputs: dict = Field(default_factory=dict, sa_type=sa.JSON)
    """Run inputs as plain JSON."""
    overlap: str = Field(default="skip", max_length=16)
    catchup: int = Field(default=1)
    """How many fires missed while no scheduler ran are started afterwards (the latest ones)."""
    paused: bool = False
    key: str | None = Field(default=None, max_length=200)
    """Identity of a schedule declared in code (``@g.schedule``): publishing again finds it
    instead of adding another. ``None`` for schedules made by a person."""
    created_at: dt.datetime = _ts(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=200)
    last_fire_at: dt.datetime | None = _ts(default=None)
    """The latest fire time handled (started, skipped or left pending); fires up to it are
    never considered again."""


class ScheduleFire(SQLModel, table=True):
    """One fire time of a schedule, stored once: the unique (schedule, fire time) is what
    keeps two schedulers from starting it twice."""

    __tablename__ = "schedule_fire"
    __table_args__ = (sa.UniqueConstraint("schedule_id", "fire_at"),)

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id", index=True)
    fire_at: dt.datetime = _ts()
    outcome: str = Field(max_length=16)
    run_id: str | None = Field(default=None, max_length=32)
    error: str | None = None
    """Why a ``failed`` fire started no run (its workflow's version is gone, its inputs no
    longer fit the workflow)."""
    fired_at: dt.datetime = _ts(default_factory=utcnow)
    """When the scheduler handled it (its lateness is ``fired_at - fire_at``)."""


schedule = _table(Schedule)
schedule_fire = _table(ScheduleFire)
# -- triggers: webhook endpoints, their signing secrets and deliveries -----------------------

WebhookMode = Literal["standard", "github"]
"""How an endpoint's requests are signed: Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``) or GitHub's ``X-Hub-Signature-256``."""
Verdict = Literal["valid", "missing", "invalid", "stale", "unchecked"]
"""What a delivery's signature check said (``unchecked``: refused before it, e.g.
rate-limited or too large)."""


class WebhookEndpoint(SQLModel, table=True):
    """``POST /hooks/<id>`` starts a run of a workflow."""

    __tablename__ = "webhook_endpoint"

    id: str = Field(primary_key=True, max_length=32)
    """The URL's last part: random, so endpoints cannot be listed by guessing."""
    workflow_id: int = Field(foreign_key="workflow.id", index=True)
    version: str | None = Field(default=None, max_length=64)
    """The version hash its runs use; ``None``: the latest at each delivery."""
    mode: str = Field(default="standard", max_length=16)
    mapping: dict | None = Field(default=None, sa_type=sa.JSON)
    """Run input name -> top-level field of a JSON or form body; ``None``: the whole body is
    the input ``payload``."""
    max_body_bytes: int | None = None
    """Larger bodies get 413; ``None``: ``PLAIT_WEBHOOK_MAX_BYTES``."""
    rate_limit: str | None = Field(default=None, max_length=64)
    """Requests allowed (``limits`` notation); ``None``: ``PLAIT_WEBHOOK_RATE_LIMIT``."""
    created_at: dt.datetime = _ts(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=200)


class WebhookSecret(SQLModel, table=True):
    """One signing secret of an endpoint, Fernet-encrypted with the secrets' keys. During a
    rotation the old one keeps verifying until ``expires_at``."""

    __tablename__ = "webhook_secret"

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(foreign_key="webhook_endpoint.id", max_length=32, index=True)
    ciphertext: bytes = Field(sa_type=sa.LargeBinary)
    created_at: dt.datetime = _ts(default_factory=utcnow)
    expires_at: dt.datetime | None = _ts(default=None)


class WebhookDelivery(SQLModel, table=True):
    """One request to an endpoint, accepted or not. ``message_id`` is set only on accepted
    ones: its unique constraint makes a retried or replayed message return the first run."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "message_id"),
        sa.Index("ix_webhook_delivery_endpoint_at", "endpoint_id", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(foreign_key="webhook_endpoint.id", max_length=32)
    received_at: dt.datetime = _ts(default_factory=utcnow)
    webhook_id: str | None = Field(default=None, max_length=200)
    """The message id the sender gave (``webhook-id`` or ``X-GitHub-Delivery``)."""
    message_id: str | None = Field(default=None, max_length=200)
    status_code: int
    verdict: str = Field(max_length=16)
    run_id: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=1000)


webhook_endpoint = _table(WebhookEndpoint)
webhook_secret = _table(WebhookSecret)
webhook_delivery = _table(WebhookDelivery)
