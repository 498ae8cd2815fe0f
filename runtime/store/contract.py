"""The Store contract: every read and write the runtime makes of its database, one operation
per question or change, each stating what it writes in which transaction and what it returns.

Two implementations share most of their code (``runtime.store.sql``): ``PostgresStore``
(``runtime.store.postgres``) and ``SqliteStore`` (``runtime.store.sqlite``); ``open_store``
picks one from the URL. ``tests/core/test_store_contract.py`` runs the same contract tests
against both.

Runs move ``queued -> running -> (waiting <-> queued -> running) -> succeeded | failed |
cancelled`` (``runtime.statuses.RUN_TRANSITIONS``); the first three are unfinished, the last
three change again only by ``retry_run`` (``failed | cancelled -> queued``). While a run is
``running`` at most one *pass* holds its lease; every write of a pass names the ``Lease`` it took
and is refused (``StaleWrite``, nothing written) once the run's epoch has moved on. Writes that
change a run's status lock its row first, so a resume or a cancel from one process and a pass in
another never interleave. Errors that mean "not now" (the database unreachable, restarting,
locked, a deadlock) are raised as ``StoreUnavailable``: nothing happened, try again.

Event numbers (``seq``) count up per run from 1 without gaps; each write that appends events
numbers them in its own transaction, after ``next_seq`` when the caller knows it (a pass does,
while it holds the lease) or after the last stored one; a write that finds its numbers taken
(a resume or cancel appended meanwhile) counts again.
"""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import functools
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from runtime import codecs
from runtime.errors import PlaitError
from runtime.store.tables import (
    Document,
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
    utcnow,
)


@dataclass
class NewEvent:
    """An event to append; ``seq`` is assigned in the transaction that writes it."""

    type: str
    node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    """A pass's hold on a run. Every write of the pass names it, and the store refuses the
    write (``StaleWrite``, nothing written) once the run's ``lease_epoch`` has moved on: a
    pass that lost the run can never commit."""

    run_id: str
    owner: str
    epoch: int


@dataclass(frozen=True)
class Takeover:
    """Leave to take a lease another process holds. Granted only if the run's lease is still
    exactly as the taker saw it: the same holder and epoch and, when ``lease_until`` is given,
    the same expiry (the holder did not renew it meanwhile). ``lease_until=None`` is for a
    holder known to be dead (a process of this host that no longer exists)."""

    owner: str
    epoch: int
    lease_until: dt.datetime | None = None

    def grants(self, run: Run) -> bool:
        return (
            run.lease_owner == self.owner
            and run.lease_epoch == self.epoch
            and (self.lease_until is None or run.lease_until == self.lease_until)
        )

    def to_json(self) -> dict[str, Any]:
        until = None if self.lease_until is None else self.lease_until.isoformat()
        return {"owner": self.owner, "epoch": self.epoch, "lease_until": until}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Takeover:
        until = doc.get("lease_until")
        return cls(doc["owner"], doc["epoch"], dt.datetime.fromisoformat(until) if until else None)


@dataclass
class Acquired:
    """What a pass starts from."""

    run: Run
    lease: Lease
    attempts: list[NodeRun]
    """Every attempt row of the run (by node, then attempt), read under the run's lock after
    the epoch moved: nothing a previous holder writes can land after this read."""
    events: list[EventDict]
    """Written by the acquire: ``run.running`` and one ``node.interrupted`` per dead attempt."""
    first_pass: bool
    """The run never ran before: it has no attempt rows."""


@dataclass
class NodeStart:
    """A node attempt row to insert (``running``, ``waiting``, ``sleeping``, ``skipped`` or
    ``failed``)."""

    node: str
    attempt: int
    status: str
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    error_type: str | None = None
    error_message: str | None = None
    owner: str | None = None
    """The process executing a ``running`` attempt."""
    lease_until: dt.datetime | None = None
    """The attempt's own lease (see ``NodeRun.lease_until``)."""
    isolation: str | None = None
    """Where a ``running`` attempt's code runs: ``thread`` or ``process``."""
    element: int | None = None
    """The index of the element of a map node this attempt runs (its ``node`` is then
    ``map[index]``); ``None`` for a node's own attempt."""
    wake_at: dt.datetime | None = None
    """A ``sleeping`` attempt's end, a ``waiting`` one's timeout (``NodeRun.wake_at``)."""
    output: codecs.Encoded | None = None
    """What a parked attempt holds as its output once its ``wake_at`` passes (a sleep's
    wake time, a wait's default answer); an answer replaces a wait's."""
    row_id: int | None = None
    """Filled in after the insert."""


@dataclass
class NodeFinish:
    """The end of a ``running`` (or ``sleeping``) attempt. Applied only if the row still is:
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
    retry_at: dt.datetime | None = None
    """When the next attempt of a failed one with ``will_retry`` is due."""
    keep_lease: bool = False
    """The attempt's code may still be executing (a timed-out thread): its lease stays until
    its process clears it, and the next attempt waits for that."""
    cache: CacheEntry | None = None
    """A ``succeeded`` end of a cached node's attempt that ran: recorded, in the same
    transaction, as the entry for ``cache.key`` (replacing any entry of that key)."""
    cached_from: int | None = None
    """A ``succeeded`` end that is a cache hit: the id of the attempt whose output it took
    (stored in ``NodeRun.cached_from``; the views show the node ``cached``)."""


@dataclass(frozen=True)
class CacheEntry:
    """Where a cached node's result is filed (``runtime.cache.key``)."""

    key: str
    workflow: str
    node: str


@dataclass(frozen=True)
class GiveUp:
    """An interrupted attempt after which the node is not tried again."""

    row_id: int
    error_message: str


@dataclass(frozen=True)
class Renewal:
    """What a heartbeat learnt."""

    held: frozenset[str]
    """Runs whose lease (same epoch) was extended; any other lease asked for is lost."""
    cancel: frozenset[str]
    """Held runs someone asked to cancel."""


@dataclass(frozen=True)
class WorkflowSummary:
    """One workflow as the workflows list shows it."""

    name: str
    description: str
    versions: int
    """How many versions were published."""
    latest_version: str
    latest_version_id: int
    node_count: int
    """Nodes in the latest version."""
    updated_at: dt.datetime
    """When the latest version was published."""
    last_run_id: str | None
    last_run_status: str | None
    last_run_at: dt.datetime | None
    runs_last_day: int
    current_version: str | None = None
    """The version triggers and runs by name start (``make current``)."""
    archived: bool = False


@dataclass(frozen=True)
class VersionInfo:
    """One published version of a workflow."""

    id: int
    version: str
    created_at: dt.datetime
    node_count: int
    runs: int
    created_by: str | None = None
    """Who published it: a user or key (API), ``cli:<os user>`` (SDK or CLI)."""
    message: str | None = None
    """What its publisher said changed (``None`` from Python code)."""
    current: bool = False
    """The version triggers and runs by name start."""


@dataclass(frozen=True)
class RunRow:
    """One run as lists show it."""

    id: str
    workflow: str
    version: str
    version_id: int
    status: str
    trigger: str
    owner: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: str | None
    wake_at: dt.datetime | None = None
    """When a parked (``sleeping``, or ``waiting`` with a timeout) run is queued again."""

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (to now while it is still going)."""
        if self.started_at is None:
            return None
        return ((self.ended_at or utcnow()) - self.started_at).total_seconds()


Pooler = Literal["none", "transaction"]
"""What sits between the store and its database (``Settings.database_pooler``)."""

COUNT_CAP = 10_000
"""How far ``run_page`` counts matching runs."""


@dataclass(frozen=True)
class NewRun:
    """A run to insert, its inputs encoded."""

    version: WorkflowVersion
    inputs: dict[str, codecs.Encoded]
    trigger: str
    owner: str | None = None
    trigger_ref: str | None = None
    start_at: dt.datetime | None = None
    """A delayed run: stored ``scheduled``, ``queued`` from then on (``release_due``)."""
    targets: list[str] | None = None
    """The outputs it was asked for (``Run.targets``); ``None``: every node."""
    priority: int = 0
    """Among a limited workflow's queued runs, higher ones are admitted first."""
    run_id: str | None = None
    """An id chosen beforehand (a webhook delivery claims it first); ``None``: a new one."""
    parent_run_id: str | None = None
    """A child run: the run whose sub-graph node ``parent_node`` starts it."""
    parent_node: str | None = None
    replay_of: str | None = None
    """The run it replays (``Run.replay_of``)."""


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook endpoint as a request to it needs it."""

    endpoint: WebhookEndpoint
    workflow: str
    ciphertexts: list[bytes]
    """Its secrets valid at the time asked (no ``expires_at``, or one after it), newest
    first."""
    version_id: int | None
    """The version its runs use: the pinned one, else the workflow's latest; ``None`` when
    the pinned version is gone."""
    spec: dict[str, Any] = field(default_factory=dict)
    """That version's spec (its run inputs)."""


class DraftConflict(PlaitError):
    """A draft save started from a revision that is no longer the stored one: someone else
    saved in between. Nothing was written; reload the draft and apply the edit again."""

    def __init__(self, workflow: str, given: int | None, stored: int | None) -> None:
        self.workflow, self.given, self.stored = workflow, given, stored
        started = "as a new draft" if given is None else f"from revision {given}"
        if stored is None:
            said = "it has no draft (save it with no revision)"
        else:
            said = f"it is at revision {stored}"
        super().__init__(
            f"draft of workflow {workflow!r}: saved {started}, but {said}; someone else "
            "saved in between: reload it and apply your edit again"
        )


class StaleWrite(Exception):
    """A guarded write matched no row: the state changed under this writer."""


INTERRUPTED = "Interrupted"
"""``error_type`` of an attempt cut off by the death of the process running its code: counted
against the node's ``max_interruptions``."""
WORKER_LOST = "WorkerLost"
"""``error_type`` of an attempt cut off by something that was not the node's doing: it ran in a
child process of its own when the worker above it stopped (a child's own death is seen by its
worker, and recorded as ``Interrupted`` with its exit code), or its process stopped before the
code began. Retried without counting."""
DIED = "the process running this attempt stopped before it finished"
LOST = "the worker process that ran this attempt in a child process stopped"


def cut_off(row: NodeRun) -> tuple[str, str]:
    """``error_type`` and message of an attempt found cut off (its process gone)."""
    return (WORKER_LOST, LOST) if row.isolation == "process" else (INTERRUPTED, DIED)


class Store(abc.ABC):
    """Access to one database. ``secret_key`` verifies pickled values when they are loaded."""

    url: str
    secret_key: bytes | None

    @property
    @abc.abstractmethod
    def display_url(self) -> str:
        """The URL without its password, for people."""

    # -- for modules that own tables of their own (accounts, sessions, keys, secrets, the
    # audit log): a transaction on this database. The runtime's runs, checkpoints, events,
    # links and catalogue go through the operations below, never through these.

    @abc.abstractmethod
    def write(self) -> AbstractContextManager[Any]:
        """A write transaction (a SQLAlchemy ``Connection``), serialised as this database
        serialises writers; committed when the block ends, rolled back on an error."""

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[Any]:
        """A read transaction (a SQLAlchemy ``Connection``)."""

    @abc.abstractmethod
    def for_update(self, query: Any) -> Any:
        """``query`` locking the rows it reads against concurrent writers of them, where the
        database needs it (a read-then-write of one row)."""

    @abc.abstractmethod
    def migrate(self) -> None:
        """Bring the schema to the newest revision (one query when it is already there)."""

    @abc.abstractmethod
    def dispose(self) -> None:
        """Close every connection."""

    # -- workflows --------------------------------------------------------------------------

    @abc.abstractmethod
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
        """Store an immutable version of workflow ``name`` (created if new), in one
        transaction. Idempotent: a version already stored (by anyone) is returned as it is,
        its code and publisher untouched. ``node_digests``: each node's digest
        (``Graph.node_digests``), kept for replays. ``created_by``: who publishes it.
        ``node_sources``: each node's source text (``Graph.node_sources``), for people to
        read; stored with the version's first publish (a draft's test version included),
        like its code: publishing it again does not rewrite them, nor fill them in.

        A version first published becomes the workflow's current one. ``published=False``
        stores it to test-run a draft only (not listed, not current); publishing the same
        content later publishes that row, with this publisher, time and ``message``.
        ``make_current``: make it current even if it was published before."""

    @abc.abstractmethod
    def replace_code(self, version_id: int, code: bytes, key_id: str | None) -> None:
        """Store re-signed code of a version (the same content, another signing key)."""

    @abc.abstractmethod
    def code_key_ids(self) -> dict[str | None, int]:
        """Signing key id -> how many versions with code it signs (``None``: code signed
        before keys had ids)."""

    @abc.abstractmethod
    def pickle_key_ids(self) -> list[str]:
        """Ids of the pickle keys that signed values this store holds (recorded when a
        pickled value is stored, once per key), oldest first; ``unrecorded`` stands for values
        pickled before ids were kept. Same on SQLite and PostgreSQL."""

    @abc.abstractmethod
    def version_ids_with_code(self) -> list[int]:
        """Versions whose code was stored, oldest first."""

    @abc.abstractmethod
    def get_version(self, version_id: int) -> WorkflowVersion:
        """A version by id; ``NotFound`` if there is none."""

    @abc.abstractmethod
    def workflows(self) -> list[Workflow]:
        """Every workflow, by name."""

    @abc.abstractmethod
    def workflow_name(self, workflow_id: int) -> str:
        """A workflow's name; ``NotFound`` if there is none."""

    @abc.abstractmethod
    def workflow(self, name: str) -> Workflow:
        """A workflow by name; ``NotFound`` names the known workflows."""

    @abc.abstractmethod
    def make_current(self, workflow: str, version: str) -> WorkflowVersion:
        """Make a published version (hash or unique prefix) the one triggers and runs by
        name start (a rollback); ``NotFound`` for no such published version."""

    @abc.abstractmethod
    def draft(self, workflow: str) -> WorkflowDraft | None:
        """The workflow's draft; ``None`` when it has none (``NotFound``: no workflow)."""

    @abc.abstractmethod
    def save_draft(
        self, workflow: str, spec: dict, revision: int | None, by: str | None
    ) -> WorkflowDraft:
        """Save the draft of ``workflow`` (created, with the workflow, if new) and return it
        with its next revision. ``revision``: the one the editor started from (``None``:
        there is no draft yet); ``DraftConflict`` when the stored draft is at another one,
        and nothing is written."""

    @abc.abstractmethod
    def discard_draft(self, workflow: str) -> bool:
        """Delete the workflow's draft; whether there was one."""

    @abc.abstractmethod
    def set_archived(self, workflow: str, archived: bool) -> Workflow:
        """Archive (hidden from the workflow list) or restore a workflow."""

    @abc.abstractmethod
    def delete_workflow(self, workflow: str) -> None:
        """Delete a workflow with its versions and draft; ``RunStateError`` (nothing deleted)
        while a run, schedule or webhook references it, or a version of another workflow
        runs it as a sub-graph (naming those workflows)."""

    # -- runs -------------------------------------------------------------------------------

    @abc.abstractmethod
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
        """Insert a ``queued`` run of ``version`` with its encoded inputs (large ones into the
        blob table) and its ``run.queued`` event (seq 1), in one transaction. ``trigger_ref``
        names the schedule or delivery that started it, if any; ``targets`` the outputs it
        was asked for (``Run.targets``); ``priority`` orders it among the queued runs of a
        limited workflow (higher first); ``run_id``: an id chosen beforehand (a webhook
        delivery claims it first), else a new one. With ``start_at`` the run is stored
        ``scheduled`` instead (event ``run.scheduled`` with its ``start_at``): no worker sees
        it until ``release_due`` queues it."""

    @abc.abstractmethod
    def create_replay(
        self,
        new: NewRun,
        reuse: Mapping[str, int],
        overrides: Mapping[str, codecs.Encoded],
        *,
        inline_limit: int,
    ) -> tuple[Run, list[EventDict]]:
        """Insert a ``queued`` replay of run ``new.replay_of`` (as ``create_run`` does) with,
        in the same transaction, a ``succeeded`` attempt 1 for each node of ``reuse`` (node ->
        id of the source's succeeded attempt) that references the source's stored output:
        the same inline bytes or the same blob hash (touched, as storing it again would, so
        retention keeps it), never a new blob; and a ``succeeded`` attempt holding each
        override's value (stored as an output is). ``RunStateError`` (nothing written) when
        a named attempt is not a succeeded attempt of the source run. The ``run.queued``
        event carries ``replay_of``, ``reused`` and ``overridden``."""

    @abc.abstractmethod
    def cache_lookup(self, key: str, max_age: dt.timedelta | None = None) -> NodeRun | None:
        """The attempt recorded under ``key`` (``NodeFinish.cache``), if it is still a
        ``succeeded`` attempt with its output and the entry was recorded no longer than
        ``max_age`` before ``tables.utcnow()`` (``None``: however long ago); else ``None``.
        An entry whose attempt retention deleted is a miss, not an error."""

    @abc.abstractmethod
    def attempt_origins(self, row_ids: Collection[int]) -> dict[int, tuple[str, int]]:
        """Attempt row id -> its run's id and attempt number, for those of ``row_ids`` that
        still exist (a cache hit's ``cached_from``, shown as a link to where it came from)."""

    @abc.abstractmethod
    def cache_clear(self, workflow: str | None = None, node: str | None = None) -> int:
        """Delete cache entries: all, a workflow's (by name), or one node's of it (``node``
        needs ``workflow``: ``InputError`` otherwise). Returns how many were deleted. The
        attempts they pointed at are untouched; only later lookups miss."""

    @abc.abstractmethod
    def release_due(self, now: dt.datetime, limit: int = 500) -> list[tuple[str, list[EventDict]]]:
        """Move ``scheduled`` runs whose ``start_at`` is at or before ``now`` to ``queued``
        (each with a ``run.queued`` event), earliest first, at most ``limit``, in one
        transaction under their rows' locks (so two callers never queue a run twice, and a
        run cancelled meanwhile stays cancelled). Returns each run's id and events.

        Parked runs (``sleeping``, ``waiting``) whose ``wake_at`` is at or before ``now`` are
        woken the same way: their parked attempts due by ``now`` end first (``succeeded``
        with the output stored at their start, else ``failed`` with ``TimeoutError``, with a
        ``node.succeeded``/``node.failed`` event each), then the run is ``queued`` (its
        ``wake_at`` cleared) and ``run.queued`` naming them in ``woken``. A wait answered
        meanwhile is not timed out: the answer and the wake both take the run row's lock."""

    @abc.abstractmethod
    def next_wake(self) -> dt.datetime | None:
        """The earliest ``start_at`` of a ``scheduled`` run or ``wake_at`` of a parked one
        (``None``: nothing to queue at a time)."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run's row; ``NotFound`` if there is none."""

    @abc.abstractmethod
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
        """Runs newest first, each with its workflow's name; ``owner`` keeps those started
        by that user or key."""

    @abc.abstractmethod
    def load_input(self, stored: dict[str, Any]) -> Any:
        """Decode a run input from its stored reference (``Run.inputs`` values)."""

    @abc.abstractmethod
    def free_runs(self) -> list[Run]:
        """Unfinished runs nobody holds: ``queued``, or ``running`` with no lease holder (a
        pass released them, or stopped at a wait that was then answered)."""

    @abc.abstractmethod
    def held_leases(self) -> list[Run]:
        """Unfinished runs some process holds a lease on."""

    # -- leases -----------------------------------------------------------------------------

    @abc.abstractmethod
    def acquire(
        self,
        run_id: str,
        owner: str,
        seconds: float,
        *,
        takeover: Takeover | None = None,
        executing: Collection[int] = (),
    ) -> Acquired | None:
        """Take the run's lease for ``seconds`` and read its checkpoints, in one transaction
        under the run row's lock. Returns ``None`` (nothing written) when the run is finished,
        waiting, or held by another process and ``takeover`` does not grant it.

        The epoch goes up by one, so every write of an earlier pass is refused from then on;
        ``queued`` becomes ``running`` (with ``run.running``) and a stall reason is cleared.
        Then every attempt row is read, and attempts whose code no longer executes anywhere
        are closed: ``running`` rows become ``failed`` as ``cut_off`` says (with a
        ``node.interrupted`` event each) and attempt leases they hold are cleared. An attempt
        executes still when it is ``owner``'s and its row id is in ``executing``, or another
        process's that is not the one taken over and its ``lease_until`` lies ahead. ``owner``
        may hold the lease already: the caller guarantees no pass of its own still advances
        the run."""

    @abc.abstractmethod
    def renew(
        self, owner: str, leases: Sequence[Lease], attempts: Sequence[int], seconds: float
    ) -> Renewal:
        """One process's heartbeat, in one transaction: extend each lease still at its epoch
        (and say which held runs were asked to cancel), and the leases of the attempt rows
        ``owner`` is executing, except those already cleared."""

    @abc.abstractmethod
    def release(self, lease: Lease, *, stalled: str | None = None) -> list[EventDict]:
        """Give the run up if ``lease`` still holds it (nothing otherwise). With ``stalled``
        (why this process cannot advance it) the reason becomes the run's ``error`` and a
        ``run.stalled`` event; the run stays unfinished for a process that can."""

    @abc.abstractmethod
    def release_attempts(self, owner: str, row_ids: Sequence[int]) -> None:
        """The code of these attempts (``owner``'s) has returned or was killed: clear their
        leases, so the next attempt of their nodes may start. Needs no run lease."""

    @abc.abstractmethod
    def unstart(self, lease: Lease, row_ids: Sequence[int]) -> None:
        """Under ``lease``: close the ``running`` attempts whose code the pass never began as
        ``WORKER_LOST`` (retried without counting as an interruption)."""

    @abc.abstractmethod
    def claim_attempt(
        self, run_id: str, row_id: int, handed_by: str, owner: str, seconds: float
    ) -> bool:
        """A worker takes an attempt a pass handed out (``runtime.spread``): the row becomes
        ``owner``'s, with an attempt lease of ``seconds``, only if it is still ``running`` and
        still ``handed_by``'s (nobody claimed it, no pass closed it). ``False``, nothing
        written, otherwise: a duplicate message, or an attempt already cut off."""

    @abc.abstractmethod
    def finish_orphans(
        self,
        run_id: str,
        owner: str,
        ends: Sequence[tuple[NodeFinish, Sequence[NewEvent]]],
        inline_limit: int,
    ) -> tuple[set[int], list[EventDict]]:
        """``finish_orphan`` for several attempts of one run in one transaction: each end
        (with its events) is written only if its row is still ``running`` and ``owner``'s.
        Returns the row ids written and the events written."""

    @abc.abstractmethod
    def finish_orphan(
        self,
        run_id: str,
        owner: str,
        finish: NodeFinish,
        events: Sequence[NewEvent],
        inline_limit: int,
    ) -> list[EventDict]:
        """Record the end of an attempt whose pass is gone (it stopped while the attempt's
        code still ran in ``owner``), under the run row's lock, only if the row is still
        ``running`` and ``owner``'s; returns the events written (none when it was not)."""

    # -- checkpoints ------------------------------------------------------------------------

    @abc.abstractmethod
    def attempts(self, run_id: str) -> list[NodeRun]:
        """Every attempt row of a run, by node, then attempt. Element attempts of map nodes
        (rows with an ``element``) are not node attempts and are left out."""

    @abc.abstractmethod
    def node_attempts(self, run_id: str, node: str) -> list[NodeRun]:
        """One node's attempt rows, oldest first (element attempts left out)."""

    @abc.abstractmethod
    def element_attempts(self, run_id: str, node: str) -> list[NodeRun]:
        """Every element attempt row of the map node ``node`` in one read, by element, then
        attempt. An element attempt is an attempt row like any other (written by ``step``
        as a ``NodeStart`` with ``element`` set and ``node`` = ``f"{node}[{element}]"``,
        finished by a ``NodeFinish``, fenced by the run's lease, its own lease renewed by
        ``renew`` and cleared by ``release_attempts``, closed ``cancelled`` by a run ending
        unsuccessfully) except that ``acquire`` does not read it: the map node's attempt
        reads its elements itself when it starts, and closes the dead ones."""

    @abc.abstractmethod
    def attempt_rows(self, run_id: str, row_ids: Sequence[int]) -> list[NodeRun]:
        """The attempt rows of ``run_id`` with these ids (node or element attempts), in any
        order; ids that are not the run's are left out. One read, whatever the run's size
        (a map driver following its handed-out elements)."""

    @abc.abstractmethod
    def element_page(
        self, run_id: str, node: str, *, offset: int = 0, limit: int = 50
    ) -> list[NodeRun]:
        """The latest attempt row of each element of the map node ``node`` whose index is
        ``offset`` or more, at most ``limit`` of them, by index (a drill-down page). The rows
        carry status, times, error and lease, not output, logs or traceback (``None``)."""

    @abc.abstractmethod
    def load_output(self, row: NodeRun) -> Any:
        """Decode an attempt's output (``None`` when it has none)."""

    @abc.abstractmethod
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
        """One checkpoint of the pass holding ``lease``, in one transaction: finish attempts
        (each must still be ``running``; its output stored with it), start new ones (each
        ``start`` gets its ``row_id``), close the ``running`` rows in ``interrupt`` as
        ``cut_off`` says, mark the given interrupted attempts as their node's last, append
        events. Returns the events written. Raises ``StaleWrite`` (nothing written) when the
        run's epoch moved past the lease's or a finished attempt is no longer ``running``."""

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
        """``step``, awaited without holding the caller's event loop up (in a thread, unless
        an implementation has a way of its own); the same transaction and answer."""
        return await asyncio.to_thread(
            functools.partial(
                self.step,
                lease,
                finishes=finishes,
                starts=starts,
                give_up=give_up,
                interrupt=interrupt,
                events=events,
                next_seq=next_seq,
                inline_limit=inline_limit,
            )
        )

    @abc.abstractmethod
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
        """End the pass, in one transaction under the run row's lock: checkpoint the last
        ``finishes``, set the run's ``status`` (``ended_at`` and ``error`` when it is final)
        and ``wake_at`` (a parked run's: when ``release_due`` wakes it), and release the
        lease. Returns the events written and whether the run was settled.
        Raises ``StaleWrite`` (nothing written) when the lease was lost.

        With ``expect_waiting`` (the wait rows the pass saw), if any of them was answered
        meanwhile only the finishes and ``node_events`` are written and the run is not
        settled: the pass must go on. A run that ends ``failed`` or ``cancelled`` closes the
        attempt rows still ``running`` or ``waiting`` as ``cancelled``: no node of a finished
        run is left running. A run that would park (``waiting``, ``sleeping``...) while a
        cancel was requested ends ``cancelled`` instead, with a ``run.cancelled`` event in
        place of ``events``: the pass that parks it has not heard the request, and nobody
        holds the run afterwards."""

    async def afinish_run(
        self, lease: Lease, status: str, **changes: Any
    ) -> tuple[list[EventDict], bool]:
        """``finish_run``, awaited without holding the caller's event loop up."""
        return await asyncio.to_thread(functools.partial(self.finish_run, lease, status, **changes))

    # -- human input and cancellation ------------------------------------------------------

    @abc.abstractmethod
    def answer_wait(
        self,
        run_id: str,
        node: str,
        output: codecs.Encoded,
        *,
        answered_by: str | None,
        inline_limit: int,
    ) -> tuple[str, list[EventDict]]:
        """Record a validated payload as the waiting node's output (``succeeded``), under
        the run row's lock; a ``waiting`` run becomes ``queued`` again (its ``wake_at``
        cleared: the answer came before any timeout). Returns the run's
        status afterwards and the events written; ``RunStateError`` when the node is not
        waiting or the run is finished."""

    @abc.abstractmethod
    def request_cancel(self, run_id: str) -> tuple[str, list[EventDict]]:
        """Under the run row's lock: a finished run stays as it is; a run a live lease holds
        is flagged for its holder (``run.cancel_requested``); any other is cancelled at once
        (its running and waiting rows too, its epoch moved so that a holder taken for dead
        cannot write). Returns the run's status afterwards and the events written."""

    @abc.abstractmethod
    def retry_run(
        self, run_id: str, *, retried_by: str | None = None
    ) -> tuple[list[str], list[EventDict]]:
        """Queue a ``failed`` or ``cancelled`` run again, in one transaction under the run
        row's lock: status ``queued``; ``error``, ``ended_at``, ``cancel_requested`` and the
        lease cleared; ``retry_floor`` set to the run's highest attempt row id (``None``
        when it has none). Attempt rows are not changed: the next pass (its acquire moves
        the epoch as always) starts again every node whose latest attempt up to the floor
        is ``failed``, ``skipped`` or ``cancelled``, counting its retries anew, and keeps
        the succeeded and ``not_needed`` ones. Appends ``run.retried`` (``{"status":
        "queued", "restart": [nodes], "by": retried_by}``). Returns those nodes and the
        events written. ``RunStateError``, nothing written, for any other status; the
        same on both dialects."""

    # -- sub-graphs -------------------------------------------------------------------------

    @abc.abstractmethod
    def start_child(self, new: NewRun, inline_limit: int) -> tuple[Run, list[EventDict]]:
        """Make sure the child run ``new`` (its ``run_id``, ``parent_run_id`` and
        ``parent_node`` set) goes on, exactly once however often it is asked: insert it
        ``queued`` when no run has its id; retry it (``retry_run``) when it is ``failed``
        or ``cancelled`` (a new attempt of its sub-graph node); when it has ``succeeded``,
        complete the node's waiting row from its outputs, as its end did. Returns the
        child's row as it then is and the child's events written."""

    @abc.abstractmethod
    def settle_parked(
        self,
        run_id: str,
        node: str,
        *,
        error_type: str,
        error: str,
        will_retry: bool = False,
    ) -> list[EventDict]:
        """Fail the ``waiting`` row of a sub-graph node whose child cannot be started, under
        the run row's lock, and queue the run again when it was ``in_subgraph``, as a
        child's end does. Nothing is written when the node is not waiting."""

    @abc.abstractmethod
    def children(self, run_id: str) -> list[Run]:
        """The child runs of a run's sub-graph nodes, oldest first."""

    # -- documents --------------------------------------------------------------------------

    @abc.abstractmethod
    def save_document(
        self,
        lease: Lease,
        node: str,
        name: str,
        kind: str,
        encoded: codecs.Encoded,
        inline_limit: int,
    ) -> None:
        """Store (or replace) a node's named document for the pass holding ``lease``
        (``StaleWrite`` once it lost the run); its event goes with the node's checkpoint.
        Called from node code, in any number of threads at once: those calls share a bounded
        part of the connections, and wait for it, so they never starve checkpoints."""

    @abc.abstractmethod
    def documents(self, run_id: str) -> list[tuple[Document, Any]]:
        """The run's documents in the order they were saved, each with its decoded value."""

    @abc.abstractmethod
    def document(self, run_id: str, node: str, name: str) -> Any:
        """The decoded value of one node's document, ``None`` when it has none so named."""

    # -- events -----------------------------------------------------------------------------

    @abc.abstractmethod
    def events(self, run_id: str, after: int = 0, limit: int | None = None) -> list[EventDict]:
        """The run's events with ``seq`` above ``after``, in order."""

    @abc.abstractmethod
    def last_seq(self, run_id: str) -> int:
        """The number of the run's last event (0: none)."""

    # -- catalogue: what the store holds, summarised for people ---------------------------

    @abc.abstractmethod
    def workflow_summaries(self, now: dt.datetime) -> list[WorkflowSummary]:
        """Every workflow with its latest version and its runs of the day before ``now``, by
        name."""

    @abc.abstractmethod
    def version_infos(self, workflow: str) -> list[VersionInfo]:
        """A workflow's versions, newest first; ``NotFound`` names the known workflows."""

    @abc.abstractmethod
    def find_version(self, workflow: str, version: str | None = None) -> WorkflowVersion:
        """A workflow's version by hash or unique hash prefix (a draft's test version too);
        its current version when ``None`` (the latest published where none was made current).
        ``NotFound`` for an unknown workflow, no such version, or an ambiguous prefix."""

    @abc.abstractmethod
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
        """One page of runs, newest first (by ``created_at``, then ``id``, both descending),
        and how many match, counted up to ``COUNT_CAP + 1`` (so a store of millions answers
        as fast as one of thousands: more than ``COUNT_CAP`` reads as "more than that").
        ``after``: ``(created_at, id)`` of the previous page's last row (keyset pagination:
        the page starts right after it, as fast however deep; ``offset`` adds to that).
        ``owner``: who started them; ``workflows``: only runs of these (an API key's reach)."""

    @abc.abstractmethod
    def run_owners(self, limit: int = 200) -> list[str]:
        """Everyone who started a run (users and keys), by name."""

    @abc.abstractmethod
    def run_ids_starting(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of runs that start with ``prefix`` (lowercase hex), in id order, ``limit`` at
        most: what a short id shown in a table stands for."""

    # -- share links ------------------------------------------------------------------------

    @abc.abstractmethod
    def create_share_link(
        self,
        run_id: str,
        token_hash: str,
        *,
        expires_at: dt.datetime | None,
        created_by: str | None,
    ) -> ShareLink:
        """Store a link to a run by its token's hash; ``NotFound`` for an unknown run."""

    @abc.abstractmethod
    def share_links(self, run_id: str) -> list[ShareLink]:
        """A run's links, oldest first."""

    @abc.abstractmethod
    def share_link(self, token_hash: str) -> ShareLink | None:
        """The link with this token hash, whatever its state."""

    @abc.abstractmethod
    def revoke_share_link(self, link_id: int, *, run_id: str | None = None) -> bool:
        """Revoke an active link (with ``run_id``: only a link of that run); whether one was."""

    # -- retention --------------------------------------------------------------------------

    @abc.abstractmethod
    def expired_runs(self, before: dt.datetime, *, keep_failed: bool, limit: int) -> list[str]:
        """Ids of up to ``limit`` finished runs (``succeeded``, ``cancelled``, and ``failed``
        unless ``keep_failed``) that ended before ``before``, oldest first. A queued, running
        or waiting run is never among them, however old."""

    @abc.abstractmethod
    def purge_runs(self, run_ids: Sequence[str], *, before: dt.datetime) -> Purged:
        """Delete these runs (finished ones only: others are left as they are) with their
        attempts, events, documents, share links and the cache entries filing their attempts,
        in one transaction; then, in a second,
        each blob they referenced that no remaining row references and that no write has
        referenced since ``before`` (storing a value touches its blob's ``created_at``, so a
        run that started storing the same value meanwhile keeps it)."""

    # -- schedules --------------------------------------------------------------------------

    @abc.abstractmethod
    def create_schedule(self, workflow: str, schedule: Schedule) -> Schedule:
        """Insert ``schedule`` for the workflow named ``workflow`` (``NotFound`` names the
        known ones; ``schedule.workflow_id`` is ignored) and return it with its id. A
        schedule with a ``key`` that workflow already has is updated in place instead (cron,
        tz, inputs, version, overlap, catchup; its pause state and fire history are kept)."""

    @abc.abstractmethod
    def schedules(self, workflow: str | None = None) -> list[tuple[Schedule, str]]:
        """Schedules (of one workflow, when named) by id, each with its workflow's name."""

    @abc.abstractmethod
    def get_schedule(self, schedule_id: int) -> tuple[Schedule, str]:
        """A schedule and its workflow's name; ``NotFound`` if there is none."""

    @abc.abstractmethod
    def set_schedule_paused(self, schedule_id: int, paused: bool) -> Schedule:
        """Pause or resume a schedule; ``NotFound`` if there is none. Resuming does not
        start the fires that fell while it was paused: its cursor (``last_fire_at``) moves to
        ``now`` then."""

    @abc.abstractmethod
    def delete_schedule(self, schedule_id: int) -> None:
        """Delete a schedule and its fire records (its runs stay, naming it in
        ``trigger_ref``); ``NotFound`` if there is none."""

    @abc.abstractmethod
    def fire_schedule(
        self,
        schedule_id: int,
        fire_at: dt.datetime,
        outcome: str,
        new_run: NewRun | None,
        inline_limit: int,
        error: str | None = None,
    ) -> tuple[Run | None, list[EventDict]] | None:
        """Record one fire time of a schedule, in one transaction: its ``schedule_fire`` row
        (``outcome`` ``started`` with ``new_run`` inserted as ``create_run`` does, or
        ``skipped``/``pending``/``failed`` without one; ``error`` says why a fire failed) and
        the schedule's ``last_fire_at`` moved up to ``fire_at``. ``None``, nothing written,
        when that fire time is stored already: the unique (schedule, fire time) means a fire
        time starts at most one run, however many schedulers try."""

    @abc.abstractmethod
    def start_pending_fire(
        self, fire_id: int, new_run: NewRun, inline_limit: int
    ) -> tuple[Run, list[EventDict]] | None:
        """Start the run of a ``pending`` fire (``queue_one``) and mark it ``started``, in one
        transaction; ``None``, nothing written, when the fire is no longer pending."""

    @abc.abstractmethod
    def schedule_fires(
        self, schedule_id: int, limit: int = 20, *, outcome: str | None = None
    ) -> list[ScheduleFire]:
        """A schedule's fire records (with ``outcome``: only those), latest fire time
        first."""

    @abc.abstractmethod
    def schedule_active_runs(self, schedule_id: int) -> int:
        """How many runs the schedule started (``trigger_ref`` ``schedule:<id>``) are not
        finished."""

    # -- admission --------------------------------------------------------------------------

    @abc.abstractmethod
    def set_run_limit(self, workflow: str, max_concurrent_runs: int | None) -> None:
        """Set (``None``: lift) the workflow's ``max_concurrent_runs``; ``NotFound`` for an
        unknown workflow. ``acquire`` enforces it: a ``queued`` run of a limited workflow is
        taken only while fewer than the limit of its runs are ``running`` or ``waiting``
        plus queued ones ranked ahead of it (higher ``priority``, then older), counted under
        the workflow row's lock (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so
        the limit holds across processes. A refused run stays ``queued``, nothing written."""

    @abc.abstractmethod
    def admissible_runs(self, workflow_id: int) -> list[str] | None:
        """Ids of the queued runs ``acquire`` would take now (as many as the workflow has free
        slots, highest priority then oldest first); ``None`` for an unlimited workflow. Read
        after a run of it finishes, to hand the freed slots on, and by the reaper, which
        enqueues no run that would only be refused."""

    # -- webhooks -----------------------------------------------------------------------------

    @abc.abstractmethod
    def create_webhook(self, endpoint: WebhookEndpoint, ciphertext: bytes) -> WebhookEndpoint:
        """Insert an endpoint and its first (encrypted) signing secret, in one transaction."""

    @abc.abstractmethod
    def webhooks(self, workflow: str | None = None) -> list[tuple[WebhookEndpoint, str]]:
        """Endpoints (of ``workflow`` only, if given) with their workflow's name, oldest
        first."""

    @abc.abstractmethod
    def webhook_target(self, endpoint_id: str, now: dt.datetime) -> WebhookTarget | None:
        """What a request to the endpoint needs, in one read transaction; ``None`` for an
        unknown endpoint."""

    @abc.abstractmethod
    def rotate_webhook_secret(
        self, endpoint_id: str, ciphertext: bytes, old_until: dt.datetime
    ) -> None:
        """Add a new secret; the ones still valid then stop at ``old_until`` (the overlap),
        in one transaction. ``NotFound`` for an unknown endpoint."""

    @abc.abstractmethod
    def delete_webhook(self, endpoint_id: str) -> bool:
        """Delete the endpoint with its secrets and deliveries (the runs stay); whether it
        existed."""

    @abc.abstractmethod
    def claim_delivery(
        self, endpoint_id: str, message_id: str, webhook_id: str | None, verdict: str, run_id: str
    ) -> tuple[int, str | None, bool]:
        """Insert an accepted delivery (status 202) naming the run it is about to create
        (``run_id``) under the unique (endpoint, message id), in one transaction, or find the
        one that holds it: ``(delivery id, its run id, whether this call inserted it)``. Two
        processes claiming one message: one inserts, the other finds it."""

    @abc.abstractmethod
    def finish_delivery(
        self, delivery_id: int, *, run_id: str | None, status_code: int, error: str | None
    ) -> None:
        """Record what became of a claimed delivery. Without a run (its creation failed) the
        message id is freed (set to ``NULL``), so the sender may deliver the message again."""

    @abc.abstractmethod
    def record_delivery(self, delivery: WebhookDelivery) -> int:
        """Insert a refused delivery (no message id, no run) for the endpoint's history."""

    @abc.abstractmethod
    def deliveries(self, endpoint_id: str, limit: int = 20) -> list[WebhookDelivery]:
        """The endpoint's latest deliveries, newest first."""

    # -- leadership -------------------------------------------------------------------------

    @abc.abstractmethod
    def leader(self, name: str) -> Leadership:
        """A leadership (``name``: what it is for, e.g. ``"reaper"``) this process can try
        to hold; at most one process per database holds each at a time."""


@dataclass
class Purged:
    """What one ``purge_runs`` deleted, by table."""

    runs: int = 0
    attempts: int = 0
    events: int = 0
    documents: int = 0
    share_links: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    """Bytes of blob data freed."""

    def add(self, other: Purged) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Leadership(abc.ABC):
    """Held by at most one process per database at a time (while ``hold`` keeps saying so)."""

    @abc.abstractmethod
    def hold(self) -> bool:
        """Try to hold it now, or check that it is still held; whether it is."""

    @abc.abstractmethod
    def release(self) -> None:
        """Let it go (it is also let go when the process dies)."""
