"""The engine: *passes* over runs, and the *executions* of node code they start.

A pass takes the run's lease, whose epoch fences every later write of the pass, and reads the
run's checkpoints in the same transaction; it executes ready nodes in topological order
(independent ones concurrently, bounded), commits each finished node together with the
attempts it unblocks in one transaction, and stops at the end, at a wait with nothing else to
do, on cancellation, or when it loses the lease. The same pass runs in-process (embedded) and
inside a Taskiq worker.

Exactly once, and never two attempts of a node at a time:

- one pass per run per process: asking to advance a run this engine is advancing makes the
  pass in progress look again when it ends;
- a pass that lost the run cannot commit (the epoch), and a takeover reads the checkpoints
  after moving the epoch, in the transaction that moved it;
- node code runs as an *execution* the engine follows until the code has returned, whatever
  becomes of the pass that started it. It holds the attempt's lease meanwhile (renewed by the
  heartbeat thread), and no attempt of a node starts while an earlier one still executes: a
  timed-out thread, an attempt whose pass stopped early, an attempt in another process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import heapq
import inspect
import logging
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cloudpickle

from runtime import cache, clock, codecs, context, faults, secrets, signing, spread
from runtime.backoff import backoff
from runtime.config import Settings
from runtime.errors import CodecError, CodeUnavailable, SignatureError, StoreUnavailable
from runtime.events import Bus, token_event
from runtime.graph import Graph, Node, check_run_inputs
from runtime.heartbeat import Heartbeat
from runtime.isolation import PICKLE_UNSIGNED
from runtime.nodes import Call, Scope
from runtime.nodes.subgraph import CHILD_TRIGGER, child_run_id
from runtime.redaction import Redactor, StreamRedactor
from runtime.statuses import NODE_BLOCKING, NODE_PARKED, untaken_nodes
from runtime.store import (
    INTERRUPTED,
    WORKER_LOST,
    Acquired,
    CacheEntry,
    GiveUp,
    Lease,
    NewEvent,
    NodeFinish,
    NodeStart,
    Renewal,
    StaleWrite,
    Store,
    Takeover,
    cut_off,
)
from runtime.store.contract import NewRun
from runtime.store.tables import RUN_FINISHED, EventDict, NodeRun, utcnow

if TYPE_CHECKING:
    from runtime.isolation import ProcessPool

log = logging.getLogger("plait.engine")

GraphLoader = Callable[[int], Graph]
"""Returns the graph of a workflow version id."""

_WATCH_SECONDS = 0.5
"""How often a pass looks at an attempt of its run that another process is executing."""
CHILD_START_SECONDS = 60.0
"""How long a child process may take to load a node's code (start a fresh interpreter,
import the node's module) before the node's timeout runs anyway: a hung import still ends."""

NodeState = Literal[
    "pending",
    "running",
    "elsewhere",
    "blocked",
    "backoff",
    "waiting",
    "sleeping",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
    "not_needed",
]
"""A node as one pass sees it. ``running``: this pass executes it; ``elsewhere``: an attempt
another process (or a stopped pass of this one) is executing; ``blocked``: ready, but an
earlier attempt's code still executes; ``backoff``: failed, retried after a delay."""


@dataclass
class _Node:
    """What the pass knows about one node."""

    status: NodeState = "pending"
    attempt: int = 0
    """The latest attempt's number (0: none yet)."""
    row: NodeRun | None = None
    """The latest attempt's row, as last read."""
    row_id: int | None = None
    failures: int = 0
    """Failed attempts that count against ``retries``."""
    interruptions: int = 0
    """Attempts cut off by the death of their process, counted against ``max_interruptions``."""
    foreign_lease: dt.datetime | None = None
    """Latest attempt lease another process holds on an earlier attempt (its code may still
    execute there)."""
    value: Any = None
    loaded: bool = False
    wake_at: dt.datetime | None = None
    """A parked attempt's wake time (``NodeRun.wake_at``)."""


@dataclass
class _Outcome:
    """How an attempt's code ended."""

    ok: bool
    encoded: codecs.Encoded | None = None
    value: Any = None
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None
    logs: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    retryable: bool = True
    interrupted: bool = False
    """The process running the code died (process isolation): an interruption, not a failure."""
    still_executing: bool = False
    """The attempt ended (timed out) while its code may still run: keep its lease."""
    cached_from: NodeRun | None = None
    """A cache hit: the earlier attempt whose output this one takes (it did not run)."""
    cache_key: str | None = None
    """A cached node's attempt that ran: the key its success is filed under."""


async def _started(execution: _Execution) -> None:
    """Until the attempt's code is called (or has ended, or ``CHILD_START_SECONDS`` passed):
    a node's timeout is its code's time, not that of a child's start-up, which a loaded
    machine can stretch to seconds."""
    if execution.started.is_set():
        return
    starting = asyncio.ensure_future(execution.started.wait())
    either: set[asyncio.Future[Any]] = {starting, execution.done}
    try:
        await asyncio.wait(
            either,
            timeout=CHILD_START_SECONDS,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        starting.cancel()


@dataclass(eq=False)
class _Execution:
    """One attempt's code, from its start until it has returned (or was killed)."""

    run_id: str
    node: str
    row_id: int
    done: asyncio.Future[_Outcome]
    """Resolves when the code has returned; cancelled once a stoppable execution is stopped.
    Waiters shield it: nobody but ``stop`` cancels it."""
    stop: Callable[[], object]
    """Kill what can be killed (a child process, an async task); a thread runs to its end."""
    owner: _Pass | None
    """The pass that records the outcome; ``None`` once that pass has stopped."""
    closed: bool = False
    """The attempt's row was finished without the outcome (timeout, cancel): at the end
    only its lease is released."""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the node's code is called: at once in a thread or a task, in a child once
    it has loaded the code (its start-up does not count against the node's timeout)."""


@dataclass
class _RetryDue:
    name: str


@dataclass
class _Unblocked:
    name: str


@dataclass
class _Parked:
    """A sub-graph node's child run goes on; its end completes the node."""

    name: str


@dataclass
class _Watched:
    """The rows of a node another process was executing, once that changed."""

    name: str
    rows: list[NodeRun]
    dead: list[int]
    """Running rows whose process stopped renewing them."""


class _LeaseLost(Exception):
    pass


class _Closing(Exception):
    """The engine was closed mid-pass: the pass stops and leaves the run to another process."""


class _Stalled(Exception):
    """A node's inputs cannot be read here (a value pickled with a key this process lacks):
    the pass stops and leaves the run, unfinished, to a process that can."""

    def __init__(self, cause: CodeUnavailable) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Engine:
    def __init__(
        self, store: Store, bus: Bus, settings: Settings, owner: str, load_graph: GraphLoader
    ) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.owner = owner
        self.load_graph = load_graph
        self.secret_key = store.secret_key
        self.node_threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.worker_concurrency * settings.node_concurrency,
            thread_name_prefix="plait-node",
        )
        """Where sync node functions run: room for every node that may run at once, so nodes
        waiting on I/O (an LLM call, a slow query) never queue behind each other; asyncio's
        default pool has cores + 4 threads. Threads start only when needed."""
        self.resubmit: Callable[[str], None] | None = None
        """Asks for a pass over a run later (set by the client to its dispatcher)."""
        self.on_park: Callable[[str, dt.datetime], None] | None = None
        """Told when a pass parks a run until a time (a sleep, a wait's timeout): the client
        makes sure something will queue it then."""
        self.hand_out: spread.Sender | None = None
        """Sends a ready node's attempt to any worker process (set in worker processes;
        ``None``: every node of a run executes where its pass runs)."""
        self.claimed: set[int] = set()
        """Attempt rows handed out by other passes that this process claimed and prepares to
        execute: their leases are renewed from the claim on."""
        self.closed = False
        self._asked_again: dict[str, bool] = {}
        """Runs being advanced here -> asked again meanwhile."""
        self._passes: dict[str, _Pass] = {}
        self._executions: dict[int, _Execution] = {}
        """Attempt row id -> code of it executing in this process."""
        self.element_rows: set[int] = set()
        """Attempt rows of map elements whose code executes in this process (kept by the
        map node's attempt, ``runtime.nodes.map``): renewed with the executions."""
        self._lock = threading.Lock()
        """Guards ``_passes`` and ``_executions`` against the heartbeat thread's reads."""
        self._pool: ProcessPool | None = None
        self._settling: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.heartbeat = Heartbeat(
            store, owner, settings.lease_seconds, self._to_renew, self._renewed
        )
        context.install_log_capture()

    def close(self) -> None:
        """Stop taking node calls. Calls already in a thread finish there; a pass that wants
        to start another stops and releases its run, so another process resumes it."""
        self.closed = True
        self.heartbeat.stop()
        self.node_threads.shutdown(wait=False)
        if self._pool is not None:
            self._pool.close()

    # -- passes -----------------------------------------------------------------------------

    async def advance(self, run_id: str, *, takeover: Takeover | None = None) -> str | None:
        """Advance the run. Returns the run's status when the (last) pass ends, or ``None``
        when the run was not ours to advance: finished, waiting, held by a live process, or
        being advanced here already (that pass then looks again when it ends, so whatever
        this request was about is not missed)."""
        if run_id in self._asked_again:
            self._asked_again[run_id] = True
            return None
        self._asked_again[run_id] = False
        try:
            status = await self._one_pass(run_id, takeover)
            while self._asked_again[run_id] and not self.closed:
                self._asked_again[run_id] = False
                status = await self._one_pass(run_id, None) or status
            return status
        finally:
            del self._asked_again[run_id]

    async def _one_pass(self, run_id: str, takeover: Takeover | None) -> str | None:
        self._loop = asyncio.get_running_loop()
        with self._lock:
            executing = {r for r, e in self._executions.items() if e.run_id == run_id}
            executing |= self.claimed  # handed to us, not started or not recorded yet
        acquired: Acquired | None = await self._db(
            self.store.acquire,
            run_id,
            self.owner,
            self.settings.lease_seconds,
            takeover=takeover,
            executing=executing,
        )
        if acquired is None:
            return None
        self._announce(run_id, acquired.events)
        lease = acquired.lease
        try:
            graph = self.load_graph(acquired.run.version_id)
        except (CodeUnavailable, ImportError, AttributeError) as exc:
            await self._stall(lease, exc)
            return None
        except SignatureError as exc:
            return await self._refuse(lease, exc)
        except Exception as exc:
            await self._stall(lease, exc)
            return None
        run = _Pass(self, acquired, graph)
        with self._lock:
            self._passes[run_id] = run
        self.heartbeat.ensure_started()
        try:
            status = await run.execute()
        except _LeaseLost:
            log.warning("run %s: lease lost to another process; this pass stops", run_id)
            return None
        except _Stalled as exc:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.unstart, lease, run.unstarted())
            await self._stall(lease, exc.cause, what="cannot read a node's inputs here")
            return None
        except _Closing:
            log.warning(
                "run %s: shutting down mid-pass; the run is left to another process", run_id
            )
            with contextlib.suppress(Exception):
                # attempts whose code never started here are nobody's fault: say so
                await asyncio.to_thread(self.store.unstart, lease, run.unstarted())
                await asyncio.to_thread(self.store.release, lease)
            return None
        except Exception:
            # release so another process (or a later recover) can pick it up at once
            log.exception("run %s: pass crashed", run_id)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.release, lease)
            raise
        finally:
            with self._lock:
                self._passes.pop(run_id, None)
            run.detach()
        if status in RUN_FINISHED:
            await self._hand_on_slots(acquired.run.workflow_id)
            if acquired.run.parent_run_id is not None:
                await self.wake_parent(acquired.run.parent_run_id)
        return status

    async def wake_parent(self, parent_run_id: str) -> None:
        """A child run ended, completing its parent's sub-graph node in that transaction:
        ask for a pass over the parent (the reaper finds it queued too, should this process
        die first)."""
        if self.resubmit is None or self.closed:
            return
        try:
            await asyncio.to_thread(self.resubmit, parent_run_id)
        except Exception as exc:
            log.warning("could not queue parent run %s: %s", parent_run_id, exc)

    async def _hand_on_slots(self, workflow_id: int) -> None:
        """A run of a limited workflow ended: ask for the queued runs its slot now admits
        (the reaper finds them too, later, should this process die first)."""
        if self.resubmit is None or self.closed:
            return
        try:
            admissible = await asyncio.to_thread(self.store.admissible_runs, workflow_id)
            for queued in admissible or ():
                await asyncio.to_thread(self.resubmit, queued)
        except Exception as exc:  # the run has ended; the reaper admits the next ones
            log.warning("could not hand on the slots of workflow %s: %s", workflow_id, exc)

    async def _stall(
        self, lease: Lease, exc: BaseException, what: str = "cannot load the workflow's code here"
    ) -> None:
        """The code does not load here (a module missing from this process's path, a key it
        lacks): leave the run unfinished, saying why, for a process that can load it."""
        reason = f"{what}: {type(exc).__name__}: {exc}"
        log.error("run %s: %s; left for a process that can", lease.run_id, reason)
        self._announce(lease.run_id, await self._db(self.store.release, lease, stalled=reason))

    async def _refuse(self, lease: Lease, exc: BaseException) -> str:
        """Tampered code: nothing of it runs, and the run fails saying why."""
        log.error("run %s: refusing to execute: %s", lease.run_id, exc)
        reason = f"refusing the workflow's code: {type(exc).__name__}: {exc}"
        written, _ = await self._db(
            self.store.finish_run,
            lease,
            "failed",
            error=reason,
            events=[NewEvent("run.failed", data={"status": "failed", "error": reason})],
        )
        self._announce(lease.run_id, written)
        return "failed"

    def _announce(self, run_id: str, events: list[EventDict]) -> None:
        if events:
            self.bus.publish(run_id, events)

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the store, riding out a database that is briefly unreachable."""
        delay = 0.1
        deadline = time.monotonic() + max(self.settings.lease_seconds, 10.0)
        while True:
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except StoreUnavailable as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("%s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- the heartbeat's view ---------------------------------------------------------------

    def _to_renew(self) -> tuple[list[Lease], list[int]]:
        with self._lock:
            # list() of a set holds the GIL throughout: safe against the loop adding to it
            return [p.lease for p in self._passes.values()], [
                *self._executions,
                *list(self.element_rows),
                *list(self.claimed),
            ]

    def _renewed(self, asked: Sequence[Lease], renewal: Renewal) -> None:
        """Runs on the heartbeat thread: tell passes that lost their lease or were asked to
        cancel."""
        loop = self._loop
        if loop is None:
            return
        for lease in asked:
            with self._lock:
                run = self._passes.get(lease.run_id)
            if run is None or run.lease != lease:
                continue
            with contextlib.suppress(RuntimeError):  # the loop is closing
                if lease.run_id not in renewal.held:
                    loop.call_soon_threadsafe(run.lose)
                elif lease.run_id in renewal.cancel:
                    loop.call_soon_threadsafe(run.cancelled.set)

    # -- executions -------------------------------------------------------------------------

    def execution_of(self, run_id: str, node: str) -> _Execution | None:
        """An attempt of this node whose code executes in this process."""
        with self._lock:
            return next(
                (e for e in self._executions.values() if e.run_id == run_id and e.node == node),
                None,
            )

    def adopt(self, row_id: int, run: _Pass) -> _Execution | None:
        """The execution of this attempt row, now recorded by ``run``, if it still executes."""
        with self._lock:
            execution = self._executions.get(row_id)
        if execution is None or execution.done.done():
            return None
        execution.owner = run
        return execution

    def track(self, execution: _Execution) -> None:
        with self._lock:
            self._executions[execution.row_id] = execution
        execution.done.add_done_callback(lambda _: self._ended(execution))

    def _ended(self, execution: _Execution) -> None:
        with self._lock:
            self._executions.pop(execution.row_id, None)
        if execution.owner is None or execution.closed:
            self.settle_later(execution)

    def settle_later(self, execution: _Execution) -> None:
        task = asyncio.ensure_future(self.settle(execution))
        self._settling.add(task)  # a task nobody references may be collected mid-way
        task.add_done_callback(self._settling.discard)

    async def settle(self, execution: _Execution) -> None:
        """An execution ended that no pass is waiting for: release its attempt lease, or
        record its outcome when its row still waits for one, and have the run looked at."""
        try:
            if execution.closed:
                await asyncio.to_thread(self.store.release_attempts, self.owner, [execution.row_id])
                return
            if execution.done.cancelled():
                # stopped while nobody waited (the engine is closing): the row's lease runs
                # out, then a pass finds the attempt interrupted
                return
            outcome = execution.done.result()
            finish, events = _orphan_end(execution, outcome)
            written = await asyncio.to_thread(
                self.store.finish_orphan,
                execution.run_id,
                self.owner,
                finish,
                events,
                self.settings.inline_limit,
            )
            self._announce(execution.run_id, written)
            if written and self.resubmit is not None and not self.closed:
                # enqueueing may wait on Redis: never on the loop
                await asyncio.to_thread(self.resubmit, execution.run_id)
        except Exception as exc:
            log.warning(
                "run %s: could not settle node %r: %s", execution.run_id, execution.node, exc
            )

    def pool(self) -> ProcessPool:
        """The pre-started child processes for ``isolation="process"`` nodes."""
        if self._pool is None:
            from runtime.isolation import ProcessPool

            size = self.settings.worker_concurrency * self.settings.node_concurrency
            self._pool = ProcessPool(max_children=min(size, 64))
        return self._pool


def _orphan_end(execution: _Execution, outcome: _Outcome) -> tuple[NodeFinish, list[NewEvent]]:
    """How an attempt whose pass is gone ends: its outcome as it is; the next pass decides on
    a retry from the node's policy."""
    now, name = utcnow(), execution.node
    events = [NewEvent("document.saved", name, {"name": d}) for d in outcome.documents]
    logs = "\n".join(outcome.logs) or None
    if outcome.ok and outcome.encoded is not None:
        events.append(NewEvent("node.succeeded", name, {"size": len(outcome.encoded.data)}))
        return NodeFinish(
            execution.row_id, "succeeded", now, output=outcome.encoded, logs=logs
        ), events
    error_type = INTERRUPTED if outcome.interrupted else outcome.error_type
    events.append(NewEvent("node.failed", name, {"error_type": error_type, "error": outcome.error}))
    finish = NodeFinish(
        execution.row_id,
        "failed",
        now,
        error_type=error_type,
        error_message=outcome.error,
        traceback=outcome.traceback,
        logs=logs,
        will_retry=outcome.retryable,
    )
    return finish, events


class _Pass:
    def __init__(self, engine: Engine, acquired: Acquired, graph: Graph) -> None:
        self.engine = engine
        self.store = engine.store
        self.settings = engine.settings
        self.run = acquired.run
        self.lease = acquired.lease
        self.graph = graph
        self.plan = graph.plan
        self.nodes = {name: _Node() for name in self.plan.order}
        self.position = {name: i for i, name in enumerate(self.plan.order)}
        self.needed = graph.needed_for(acquired.run.targets)
        """The nodes the run's requested outputs need (every node when it names none)."""
        self.candidates: set[str] = set(self.plan.order)
        """Nodes whose readiness may have changed since the last schedule."""
        self.inputs = {k: self.store.load_input(v) for k, v in self.run.inputs.items()}
        defaults = {
            name: {"default": default}
            for name, default in self.plan.run_inputs.items()
            if default is not inspect.Parameter.empty
        }
        # stored secrets its nodes declare: decrypted here, in the process running the nodes
        declared = {name for n in graph.nodes.values() for name in n.secrets}
        self.secrets, self.secret_problems = secrets.Secrets(self.store, self.settings).reveal(
            declared
        )
        known = Redactor.from_inputs(self.inputs, {"inputs": defaults}).known
        self.redactor = Redactor(known, self.secrets)
        """Hides the run's secrets in what its nodes leave behind: logs, errors, tracebacks
        (and stored secrets, as ``[secret:NAME]``, in outputs and documents too)."""
        self.token_redactor = StreamRedactor(self.redactor)
        """The same for streamed tokens, where a secret may come split over several."""
        self.tasks: dict[asyncio.Future[Any], str] = {}
        self.executions: dict[str, _Execution] = {}
        """Node -> the execution this pass records."""
        self.cancelled = asyncio.Event()
        self.lease_lost = False
        self.next_seq: int | None = acquired.events[-1]["seq"] + 1 if acquired.events else None
        """Our next event number while we hold the lease (``None``: ask the table)."""
        self.finishes: list[NodeFinish] = []
        self.events: list[NewEvent] = []
        self.give_up: list[GiveUp] = []
        self.interrupt: list[int] = []
        """Writes waiting for the next checkpoint."""
        self.untaken: dict[str, str] = {}
        """Node -> why it is on a path a branch did not take (it is skipped, not failed)."""
        self.took: dict[str, list[str]] = {}
        """Branch -> the successors its decision, recorded in this pass, takes."""
        self.chosen: set[str] = set()
        """Nodes a branch took (a ``join="any"`` one runs when any of its branches did)."""
        self.sleeping: dict[str, dt.datetime] = {}
        """Sleeping nodes -> their wake time: ended by this pass once due, else by the
        scheduler after the run parks."""
        self.handing = spread.Handing(self)
        self.digests: dict[str, str] | None = None
        """Node -> digest (``Graph.node_digests``), computed when a cached node first needs
        its key."""
        """Nodes of the run handed out to other worker processes."""
        for row in acquired.attempts:
            self._fold(row)
        for name in self.plan.order:
            self._settle_latest(name)
        self.settled = {
            n for n, s in self.nodes.items() if s.status == "succeeded" or s.status in NODE_BLOCKING
        }
        """Nodes whose end the dependency counts below include."""
        self.unmet = {
            n: sum(self.nodes[d].status != "succeeded" for d in deps)
            for n, deps in self.plan.deps.items()
        }
        """Node -> dependencies that have not succeeded yet."""
        self.upstream_blocked = {
            n: sum(self.nodes[d].status in NODE_BLOCKING for d in deps)
            for n, deps in self.plan.deps.items()
        }
        """Node -> dependencies that did not succeed and never will (it is then skipped)."""
        self.ready: list[tuple[int, str]] = []
        """Heap of (topological position, node): ready, waiting for a free slot."""

    # -- what the checkpoints say -----------------------------------------------------------

    def _fold(self, row: NodeRun) -> None:
        state = self.nodes.get(row.node)
        if state is None:
            return
        state.attempt, state.row_id, state.row = row.attempt, row.id, row
        state.status = row.status  # type: ignore[assignment]
        state.wake_at = row.wake_at
        if row.status == "sleeping" and row.wake_at is not None:
            self.sleeping[row.node] = row.wake_at
        else:
            self.sleeping.pop(row.node, None)
        if row.status == "failed" and not self._before_retry(row):
            if row.error_type == INTERRUPTED:
                state.interruptions += 1
            elif row.error_type != WORKER_LOST:  # an attempt given back never ran: no failure
                state.failures += 1
        if row.owner not in (None, self.engine.owner) and row.lease_until is not None:
            state.foreign_lease = max(state.foreign_lease or row.lease_until, row.lease_until)

    def _settle_latest(self, name: str) -> None:
        """Turn the latest attempt's row into what this pass does about the node."""
        state, node = self.nodes[name], self.graph.nodes[name]
        row = state.row
        if row is None:
            return
        if row.status == "running":
            execution = self.engine.adopt(row.id, self) if row.owner == self.engine.owner else None  # type: ignore[arg-type]
            if execution is not None:
                state.status = "running"
                self.executions[name] = execution
                self._spawn(self._await_execution(node, execution), name)
            else:
                state.status = "elsewhere"
                if not self.handing.adopt(name, row):
                    self._spawn(self._watch(name), name)
            return
        if row.status == "waiting" and node.kind_impl.parks == "in_subgraph":
            self._spawn(self._start_child(node), name)  # found again, never started twice
            return
        if row.status in NODE_BLOCKING and self._before_retry(row):
            # the run was retried: what did not succeed runs again, with its retries anew
            state.status = "pending"
            return
        if row.status != "failed":
            return
        if row.error_type == WORKER_LOST and row.will_retry:
            state.status = "pending"
        elif row.error_type == INTERRUPTED and row.will_retry:
            if state.interruptions < node.max_interruptions:
                state.status = "pending"
                return
            # a node that keeps killing its process: give up on it, and the run goes on
            message = f"interrupted {state.interruptions} times: {row.error_message}"
            self.give_up.append(GiveUp(row.id, message))  # type: ignore[arg-type]
            self.events.append(
                NewEvent(
                    "node.failed",
                    name,
                    {"attempt": row.attempt, "error_type": INTERRUPTED, "error": message},
                )
            )
            state.status = "failed"
        elif row.will_retry and state.failures <= node.retries:
            state.status = "pending"
        else:
            state.status = "failed"

    def _before_retry(self, row: NodeRun) -> bool:
        """The attempt was made before the run's last retry."""
        floor = self.run.retry_floor
        return floor is not None and row.id is not None and row.id <= floor

    # -- the loop ---------------------------------------------------------------------------

    async def execute(self) -> str:
        unsubscribe = self.engine.bus.subscribe(self.run.id, self._on_events)
        if self.run.cancel_requested:
            self.cancelled.set()
        cancel_watch = asyncio.ensure_future(self.cancelled.wait())
        try:
            if faults.PAUSES:
                await faults.pause("acquired")
            while True:
                if self.lease_lost:
                    raise _LeaseLost
                if self.plan.choices:
                    await self._follow_decisions()
                if self.sleeping and not self.cancelled.is_set():
                    self._wake_due()
                starts = [] if self.cancelled.is_set() else self._schedule()
                if not (starts or self.tasks or self.give_up or self.interrupt):
                    if self.cancelled.is_set():
                        return await self._cancel()
                    # nothing left to start: the last checkpoint and the run's end share a
                    # transaction
                    status = await self._finish()
                    if status is not None:
                        return status
                    continue  # a wait was answered while we worked
                await self._commit(starts)
                self._launch(starts)
                if self.lease_lost:
                    raise _LeaseLost
                if self.cancelled.is_set():
                    return await self._cancel()
                if not self.tasks:
                    continue
                # a sleep ending while other nodes run ends in this pass (a timer, not a task:
                # it keeps no pass alive once nothing else runs)
                timer = self._sleep_timer()
                await asyncio.wait(
                    [*self.tasks, cancel_watch, *timer], return_when=asyncio.FIRST_COMPLETED
                )
                for tick in timer:
                    tick.cancel()
                # siblings finishing together share one checkpoint transaction: let their
                # thread-to-loop callbacks land before collecting
                await asyncio.sleep(0)
                if self.lease_lost:
                    raise _LeaseLost
                for task in [t for t in self.tasks if t.done()]:
                    name = self.tasks.pop(task)
                    if task.cancelled():
                        raise _Closing
                    self._collect(name, task.result())
        finally:
            unsubscribe()
            cancel_watch.cancel()
            for task in self.tasks:
                task.cancel()

    def _spawn(self, awaitable: Any, name: str) -> None:
        self.tasks[asyncio.ensure_future(awaitable)] = name

    def _collect(self, name: str, result: Any) -> None:
        state = self.nodes[name]
        if isinstance(result, _Parked):
            return
        if isinstance(result, _RetryDue | _Unblocked):
            state.status = "pending"
            self.candidates.add(name)
        elif isinstance(result, _Watched):
            self._refold(name, result)
        else:
            self._record(name, result)
            self._touch_successors(name)

    def _refold(self, name: str, watched: _Watched) -> None:
        """Another process's attempt of this node ended (or its process died): read the
        node afresh from its rows."""
        now = utcnow()
        for row in watched.rows:
            if row.id in watched.dead:
                row.status, row.ended_at, row.will_retry = "failed", now, True
                row.error_type, row.error_message = cut_off(row)
        self.interrupt.extend(watched.dead)
        self.events.extend(
            NewEvent("node.interrupted", name, {"attempt": r.attempt})
            for r in watched.rows
            if r.id in watched.dead
        )
        self.nodes[name] = _Node()
        for row in watched.rows:
            self._fold(row)
        self._settle_latest(name)
        self.candidates.add(name)
        self._touch_successors(name)

    def _schedule(self) -> list[NodeStart]:
        """Pick ready nodes: skip those behind a failure, open waits, start the rest.

        Linear in the node count: only nodes touched since the last call are looked at,
        their dependencies through counts (``unmet``, ``upstream_blocked``), and ready nodes
        without a free slot wait in a heap keyed by topological position (ties keep
        declaration order) instead of being sorted and scanned again each loop."""
        now = utcnow()
        picked: list[tuple[int, NodeStart, NewEvent | None]] = []
        # a fresh set: a drained one keeps its size, and iterating it costs that much; what
        # is touched meanwhile (a skip's successors) is looked at next time, as before
        touched, self.candidates = self.candidates, set()
        for name in sorted(touched, key=self.position.__getitem__):
            state = self.nodes[name]
            if state.status != "pending":
                continue
            if name not in self.needed:
                # no requested output depends on it (nor on what depends on it)
                state.status, state.attempt = "not_needed", state.attempt + 1
                start = NodeStart(name, state.attempt, "not_needed", now, now)
                picked.append((self.position[name], start, NewEvent("node.not_needed", name)))
                continue
            if self.unmet[name] and not self.upstream_blocked[name]:
                continue  # a dependency is still going (the count answers without a look)
            gate, reason = self._gate(name)
            if gate == "skip":
                state.status, state.attempt = "skipped", state.attempt + 1
                start = NodeStart(name, state.attempt, "skipped", now, now, error_message=reason)
                why = {"reason": reason, **({"untaken": True} if name in self.untaken else {})}
                picked.append((self.position[name], start, NewEvent("node.skipped", name, why)))
                self._touch_successors(name)
                continue
            if gate == "wait":
                continue
            node = self.graph.nodes[name]
            if node.kind_impl.parks is not None:
                if (parked := self._park(node, now)) is not None:
                    picked.append((self.position[name], parked, None))  # its event is written
                    if parked.status == "failed":  # a bad ``until``: what follows is skipped
                        self._touch_successors(name)
                continue
            heapq.heappush(self.ready, (self.position[name], name))
        running = self._running()
        deferred: list[tuple[int, str]] = []
        while self.ready:
            position, name = self.ready[0]
            state = self.nodes[name]
            if state.status != "pending" or self._still_executing(name, now):
                heapq.heappop(self.ready)  # started since it was found ready, or an earlier
                continue  # attempt runs on
            node = self.graph.nodes[name]
            # a join="any" node reads which of its inputs are untaken: known to this pass only;
            # a cached node's key and hit are decided by this pass too (``_attempt``)
            here_only = node.join != "all" or bool(node.cache)
            owner = self.handing.owner_for(name, running, here_only=here_only)
            if owner is None:
                if here_only:  # waits for a slot here; others may still be handed out
                    deferred.append(heapq.heappop(self.ready))
                    continue
                break  # no slot here, and none to hand out
            heapq.heappop(self.ready)
            here = owner == self.engine.owner
            running += here
            state.status, state.attempt = ("running" if here else "elsewhere"), state.attempt + 1
            start = NodeStart(
                name,
                state.attempt,
                "running",
                now,
                owner=owner,
                lease_until=now + dt.timedelta(seconds=self.settings.lease_seconds),
                isolation=self._isolation(self.graph.nodes[name]),
            )
            event = NewEvent("node.running", name, {"attempt": state.attempt})
            picked.append((position, start, event))
        for item in deferred:
            heapq.heappush(self.ready, item)
        picked.sort(key=lambda p: p[0])  # checkpoints and events in topological order
        self.events.extend(event for _, _, event in picked if event is not None)
        return [start for _, start, _ in picked]

    def _running(self) -> int:
        """Nodes this pass executes now (each has a task: at most the in-flight ones)."""
        return len({n for n in self.tasks.values() if self.nodes[n].status == "running"})

    def _park(self, node: Node, now: dt.datetime) -> NodeStart | None:
        """Start a node that parks (a wait, a sleep): its wake time, and what it ends with
        then, are decided and stored now, so a restart neither sleeps again nor forgets.
        ``None`` while an input it reads from another node is being loaded."""
        name, kind, state = node.name, node.kind_impl, self.nodes[node.name]
        kwargs: dict[str, Any] = {}
        for param, source in node.inputs.items():
            if source in self.nodes:
                if not self.nodes[source].loaded:
                    state.status = "blocked"
                    self._spawn(self._loaded(source, name), name)
                    return None
                kwargs[param] = self.nodes[source].value
            elif source in self.inputs:
                kwargs[param] = self.inputs[source]
        state.attempt += 1
        try:
            wake_at = kind.wake_at(node, now, kwargs)
            woken = None if wake_at is None else kind.woken(node, wake_at)
            what = f"output of node {name!r}"
            output = None if woken is None else codecs.encode(woken.value, what=what)
        except Exception as exc:  # a bad ``until`` value: the node fails, saying why
            error = {"error_type": type(exc).__name__, "error": str(exc)}
            state.status = "failed"
            self.events.append(NewEvent("node.failed", name, {"attempt": state.attempt, **error}))
            return NodeStart(name, state.attempt, "failed", now, now, type(exc).__name__, str(exc))
        # a sub-graph node's row waits for its child's end as a wait's for its answer
        status: Literal["sleeping", "waiting"] = (
            "sleeping" if kind.parks == "sleeping" else "waiting"
        )
        state.status, state.wake_at = status, wake_at
        data: dict[str, Any] = {"attempt": state.attempt, **kind.park_data(node, self.run.id)}
        if wake_at is not None:
            data["wake_at"] = wake_at.astimezone(dt.UTC).isoformat()
            if status == "sleeping":
                self.sleeping[name] = wake_at
        self.events.append(NewEvent(f"node.{status}", name, data))
        return NodeStart(name, state.attempt, status, now, wake_at=wake_at, output=output)

    async def _loaded(self, source: str, name: str) -> _Unblocked:
        try:
            await self._value(source)
        except CodeUnavailable as exc:
            raise _Stalled(exc) from exc  # configuration, not the node's fault
        return _Unblocked(name)

    def _wake_due(self) -> None:
        """End the sleeps whose wake time has come (a wait's timeout is ended by
        ``release_due`` once the run parks: an answer may race it, and both take the run
        row's lock there)."""
        now = utcnow()
        for name, wake_at in list(self.sleeping.items()):
            state = self.nodes[name]
            if wake_at > now or state.row_id is None:
                continue
            node = self.graph.nodes[name]
            woken = node.kind_impl.woken(node, wake_at)
            if woken is None:
                continue
            del self.sleeping[name]
            encoded = codecs.encode(woken.value, what=f"output of node {name!r}")
            state.status, state.loaded = "succeeded", True
            state.value = node.kind_impl.load(node, woken.value)
            self.finishes.append(NodeFinish(state.row_id, "succeeded", now, output=encoded))
            self.events.append(
                NewEvent("node.succeeded", name, {"attempt": state.attempt, "woke": True})
            )
            self._touch_successors(name)

    def _sleep_timer(self) -> list[asyncio.Future[Any]]:
        """A timer for the earliest sleep of this pass (none when it has none)."""
        if not self.sleeping:
            return []
        delay = (min(self.sleeping.values()) - utcnow()).total_seconds()
        return [asyncio.ensure_future(clock.sleep(max(delay, 0.0)))]

    def _still_executing(self, name: str, now: dt.datetime) -> bool:
        """Whether an earlier attempt's code still runs (then the node waits for it)."""
        state = self.nodes[name]
        execution = self.engine.execution_of(self.run.id, name)
        if execution is not None:
            state.status = "blocked"
            self._spawn(_unblocked_after(execution, name), name)
            return True
        if state.foreign_lease is not None and state.foreign_lease > now:
            state.status = "blocked"
            self._spawn(self._watch(name), name)
            return True
        return False

    def _touch_successors(self, name: str) -> None:
        """``name`` finished (or may have): its successors are looked at again, and once it
        succeeded or never will, their dependency counts say so."""
        status = self.nodes[name].status
        settled = status == "succeeded" or status in NODE_BLOCKING
        if settled and name not in self.settled:
            self.settled.add(name)
            counts, step = (self.unmet, -1) if status == "succeeded" else (self.upstream_blocked, 1)
            for successor in self.plan.successors[name]:
                counts[successor] += step
        self.candidates.update(self.plan.successors[name])

    def _launch(self, starts: list[NodeStart]) -> None:
        for start in starts:
            state = self.nodes[start.node]
            state.row_id = start.row_id
            node = self.graph.nodes[start.node]
            if start.status == "running" and start.owner != self.engine.owner:
                self._spawn(self.handing.launch(start.node, start.row_id), start.node)  # type: ignore[arg-type]
            elif start.status == "running":
                self._spawn(self._attempt(node, start), start.node)
            elif start.status == "waiting" and node.kind_impl.parks == "in_subgraph":
                self._spawn(self._start_child(node), start.node)

    # -- executing one attempt --------------------------------------------------------------

    async def _attempt(self, node: Node, start: NodeStart) -> _Outcome:
        ctx = context.NodeContext(self.run.id, node.name, start.attempt, redactor=self.redactor)
        ctx.saver = functools.partial(self._save_document, node.name)
        ctx.tokens = functools.partial(self._publish_tokens, node.name, start.attempt)
        ctx.secrets = {n: self.secrets[n] for n in node.secrets if n in self.secrets}
        if missing := [self.secret_problems[n] for n in node.secrets if n not in self.secrets]:
            return _Outcome(False, error_type="MissingSecret", error="; ".join(missing))
        try:
            kwargs = await self._arguments(node)
        except CodeUnavailable as exc:
            raise _Stalled(exc) from exc  # configuration, not the node's fault: do not fail it
        except Exception as exc:
            return _failure(exc, ctx)
        key = None
        if node.cache:
            key, hit = await asyncio.to_thread(self._cache_hit, node, kwargs)
            if hit is not None:
                return hit
        execution = self._begin(node, start, kwargs, ctx)
        self.executions[node.name] = execution
        self.engine.track(execution)
        outcome = await self._await_execution(node, execution)
        outcome.cache_key = key
        return outcome

    def _cache_hit(self, node: Node, kwargs: dict[str, Any]) -> tuple[str | None, _Outcome | None]:
        """A cached node's key and, when the store holds a fresh entry for it, the outcome
        taken from it (``runtime.cache``). A failure to key or read is a miss: the cache only
        ever saves work, it never fails a node."""
        try:
            if self.digests is None:
                self.digests = self.graph.node_digests()
            key = cache.key(self.graph.name, node.name, self.digests[node.name], kwargs)
        except Exception:
            log.warning("node %r: no cache key, it runs", node.name, exc_info=True)
            return None, None
        try:
            source = self.store.cache_lookup(key, cache.max_age(node.cache))
            if source is None:
                return key, None
            value = node.kind_impl.load(node, self.store.load_output(source))
        except Exception:
            log.warning("node %r: cache entry unreadable, it runs", node.name, exc_info=True)
            return key, None
        return key, _Outcome(True, value=value, cached_from=source)

    def _begin(
        self, node: Node, start: NodeStart, kwargs: dict[str, Any], ctx: context.NodeContext
    ) -> _Execution:
        allow_pickle = self.graph.pickle if node.pickle is None else node.pickle
        encode = functools.partial(
            codecs.encode,
            allow_pickle=allow_pickle,
            what=f"output of node {node.name!r}",
            key=self.engine.secret_key,
        )
        stop: Callable[[], object] = _nothing
        done: asyncio.Future[_Outcome]
        started = asyncio.Event()
        call = node.kind_impl.call_in(node, kwargs, self._scope(start, encode))
        if start.isolation == "process":
            done = asyncio.ensure_future(self._in_child(call, ctx, allow_pickle, started.set))
            stop = done.cancel
        elif call.is_async:
            done = asyncio.ensure_future(_call_async(call, ctx, encode))
            stop = done.cancel
        else:
            in_thread = functools.partial(
                contextvars.copy_context().run, _call_sync, call, ctx, encode
            )
            try:
                done = asyncio.wrap_future(self.engine.node_threads.submit(in_thread))
            except RuntimeError:
                if self.engine.closed:
                    raise _Closing from None
                raise
        if start.isolation != "process":
            started.set()
        return _Execution(self.run.id, node.name, start.row_id, done, stop, self, started=started)  # type: ignore[arg-type]

    def _scope(self, start: NodeStart, encode: Callable[[Any], codecs.Encoded]) -> Scope:
        """What an attempt of a kind that drives parts of its own (a map) gets of this pass."""

        async def checkpoint(**writes: Any) -> None:
            self._announce(await self._write(self.store.astep, **writes))

        return Scope(
            run_id=self.run.id,
            attempt=start.attempt,
            owner=self.engine.owner,
            store=self.store,
            checkpoint=checkpoint,
            threads=self.engine.node_threads,
            tracked=self.engine.element_rows,
            lease_seconds=self.settings.lease_seconds,
            retry_floor=self.run.retry_floor,
            encode=encode,
            redact=self.redactor.text,
            **self.handing.for_parts(),
        )

    def _isolation(self, node: Node) -> str:
        """Where this attempt's code runs. A node whose process died under it before runs in
        a child process from then on (when its code ships there), so that a crash is put down
        to the node that caused it: its neighbours in the dead process are not the ones that
        run out of interruptions."""
        if node.kind_impl.drives:
            return "thread"  # it drives its parts from this process's event loop
        isolation = node.isolation or self.graph.isolation or self.settings.isolation
        if isolation == "thread" and self.nodes[node.name].interruptions:
            try:
                cloudpickle.dumps(node.target)
            except Exception:
                return isolation
            log.warning(
                "run %s: node %r was interrupted before; this attempt runs in a child process",
                self.run.id,
                node.name,
            )
            return "process"
        return isolation

    async def _await_execution(self, node: Node, execution: _Execution) -> _Outcome:
        try:
            if node.timeout is None:
                outcome = await asyncio.shield(execution.done)
            else:
                await _started(execution)
                outcome = await asyncio.wait_for(asyncio.shield(execution.done), node.timeout)
        except TimeoutError:
            execution.stop()
            execution.closed = True
            return _Outcome(
                False,
                error_type="TimeoutError",
                error=f"node {node.name!r} exceeded its {node.timeout:g}s timeout",
                still_executing=True,
            )
        if faults.PAUSES:
            await faults.pause("executed")
        return outcome

    async def _in_child(
        self,
        call: Call,
        ctx: context.NodeContext,
        allow_pickle: bool,
        on_started: Callable[[], object],
    ) -> _Outcome:
        """The attempt in a child process of the pool: it gets the code and the arguments,
        never a key; its output comes back encoded, and a pickle is signed here."""
        from runtime.isolation import ChildDied, Job, PoolClosed

        node = self.graph.nodes[ctx.node]
        job = Job.of(
            str(self.run.version_id),
            call.fn,
            call.kwargs,
            context={
                "run_id": ctx.run_id,
                "node": ctx.node,
                "attempt": ctx.attempt,
                **({"secrets": ctx.secrets} if ctx.secrets else {}),
            },
            allow_pickle=allow_pickle,
            timeout=None,  # the pass times the attempt out and cancels, which kills the child
        )

        async def on_document(name: str, kind: str, encoded: codecs.Encoded) -> None:
            encoded = secrets.scrub(encoded, self.secrets, what=f"document {name!r}")
            await asyncio.to_thread(
                self.store.save_document,
                self.lease,
                node.name,
                name,
                kind,
                encoded,
                self.settings.inline_limit,
            )
            if name not in ctx.documents:
                ctx.documents.append(name)

        hide = self.redactor.text
        try:
            result = await self.engine.pool().run(job, on_document, on_started)
        except PoolClosed:
            raise _Closing from None
        except ChildDied as exc:
            return _Outcome(
                False,
                error_type=INTERRUPTED,
                error=str(exc),
                logs=[hide(line) for line in exc.logs],
                documents=ctx.documents,
                interrupted=True,
            )
        if not result.ok:
            return _Outcome(
                False,
                error_type=result.error_type,
                error=result.error_message,
                traceback=result.traceback,
                logs=[hide(line) for line in result.logs],
                documents=ctx.documents,
                retryable=result.retryable,
            )
        assert result.codec is not None and result.data is not None
        encoded = codecs.Encoded(result.codec, result.data)
        if result.codec == PICKLE_UNSIGNED:
            encoded = codecs.Encoded(
                codecs.PICKLE, signing.sign(result.data, self.engine.secret_key)
            )
        value = await asyncio.to_thread(
            codecs.decode, encoded.codec, encoded.data, self.engine.secret_key
        )
        logs = [hide(line) for line in result.logs]
        return _Outcome(True, encoded=encoded, value=value, logs=logs, documents=ctx.documents)

    async def _start_child(self, node: Node) -> _Parked:
        """Have the child run of a sub-graph node go on: started once (its id is derived
        from this run's and the node's), retried for a new attempt of the node. Whatever
        keeps it from starting fails the node."""
        child_id = child_run_id(self.run.id, node.name)
        try:
            kwargs = await self._arguments(node)
            new = await asyncio.to_thread(self._child_run, node, child_id, kwargs)
            record, events = await self.engine._db(
                self.store.start_child, new, self.settings.inline_limit
            )
        except CodeUnavailable as exc:
            raise _Stalled(exc) from exc
        except Exception as exc:
            error = self.redactor.text(f"cannot start child run {child_id}: {exc}")
            written = await self.engine._db(
                self.store.settle_parked,
                self.run.id,
                node.name,
                error_type=type(exc).__name__,
                error=error,
            )
            self.next_seq = None  # written beside this pass's numbering
            self.engine._announce(self.run.id, written)
            return _Parked(node.name)
        self.engine._announce(child_id, events)
        if record.status == "queued" and self.engine.resubmit is not None:
            await asyncio.to_thread(self.engine.resubmit, child_id)
        return _Parked(node.name)

    def _child_run(self, node: Node, child_id: str, kwargs: dict[str, Any]) -> NewRun:
        """The child run of a sub-graph node, its inputs checked and encoded; it runs the
        version this run's own version recorded for the node."""
        entry = next(
            n
            for n in self.store.get_version(self.run.version_id).spec["nodes"]
            if n["name"] == node.name
        )
        ref = entry["subgraph"]
        version = self.store.find_version(ref["workflow"], ref["version"])
        target = node.target
        graph = getattr(target, "graph", None)
        if isinstance(graph, Graph) and graph.version == version.version:
            kwargs = graph.check_inputs(kwargs)
        else:
            required = {k: bool(v.get("required")) for k, v in version.spec["inputs"].items()}
            check_run_inputs(ref["workflow"], required, kwargs)
        allow_pickle = any(n["policies"].get("pickle") for n in version.spec["nodes"])
        encoded = {
            k: codecs.encode(
                v,
                allow_pickle=allow_pickle,
                what=f"input {k!r} of a child run",
                key=self.engine.secret_key,
            )
            for k, v in kwargs.items()
        }
        return NewRun(
            version,
            encoded,
            CHILD_TRIGGER,
            self.run.owner,
            run_id=child_id,
            parent_run_id=self.run.id,
            parent_node=node.name,
        )

    async def _arguments(self, node: Node) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for param, source in node.inputs.items():
            if source in self.untaken:  # a join="any" input on an untaken path
                if param not in node.defaults:  # else the parameter's own default applies
                    kwargs[param] = None
            elif source in self.nodes:
                kwargs[param] = await self._value(source)
            elif source in self.inputs:
                kwargs[param] = self.inputs[source]
            # otherwise the parameter's own default applies
        return kwargs

    async def _value(self, name: str) -> Any:
        state = self.nodes[name]
        if not state.loaded:
            row = state.row
            if row is None or row.id != state.row_id:
                row = next(
                    r
                    for r in await asyncio.to_thread(self.store.node_attempts, self.run.id, name)
                    if r.id == state.row_id
                )
            value = await asyncio.to_thread(self.store.load_output, row)
            node = self.graph.nodes[name]
            state.value, state.loaded = node.kind_impl.load(node, value), True
        return state.value

    async def _watch(self, name: str) -> _Watched:
        """Wait until no other process executes an attempt of this node (it ended, or its
        process stopped renewing its lease)."""
        while True:
            await asyncio.sleep(_WATCH_SECONDS)
            try:
                rows = await asyncio.to_thread(self.store.node_attempts, self.run.id, name)
            except StoreUnavailable:
                continue
            live = [r for r in rows if self._executing(r, utcnow())]
            if not live:
                dead = [r.id for r in rows if r.status == "running"]
                return _Watched(name, rows, dead)  # type: ignore[arg-type]

    def _executing(self, row: NodeRun, now: dt.datetime) -> bool:
        """Whether this attempt's code may still be running somewhere."""
        if row.owner == self.engine.owner:
            return self.engine.execution_of(self.run.id, row.node) is not None
        return row.lease_until is not None and row.lease_until > now

    # -- recording outcomes -----------------------------------------------------------------

    def _save_document(self, node: str, name: str, content: Any, kind: str) -> None:
        """Runs in the node's own thread (or task): the document is stored at once; its
        event is written with the node's checkpoint."""
        encoded = codecs.encode(content, what=f"document {name!r} of node {node!r}")
        encoded = secrets.scrub(encoded, self.secrets, what=f"document {name!r} of node {node!r}")
        self.store.save_document(self.lease, node, name, kind, encoded, self.settings.inline_limit)

    def _record(self, name: str, outcome: _Outcome) -> None:
        self.events.extend(
            NewEvent("document.saved", name, {"name": document}) for document in outcome.documents
        )
        self.executions.pop(name, None)
        state = self.nodes[name]
        node = self.graph.nodes[name]
        now = utcnow()
        logs = "\n".join(outcome.logs) or None
        row_id: int = state.row_id  # type: ignore[assignment]
        if outcome.ok and outcome.cached_from is not None:
            source = outcome.cached_from
            state.status, state.value, state.loaded = "succeeded", outcome.value, True
            origin = {"run_id": source.run_id, "attempt": source.attempt, "node": source.node}
            self.events.append(
                NewEvent(
                    "node.succeeded",
                    name,
                    {"attempt": state.attempt, "cached": True, "cached_from": origin},
                )
            )
            self.finishes.append(NodeFinish(row_id, "succeeded", now, cached_from=source.id))
            return
        if outcome.ok and outcome.encoded is not None and self.secrets:
            outcome = self._scrubbed(name, outcome)
        if outcome.ok and outcome.encoded is not None and name in self.plan.choices:
            outcome = self._routed(name, outcome)
        if outcome.ok and outcome.encoded is not None:
            state.status, state.value, state.loaded = "succeeded", outcome.value, True
            took = {"took": self.took[name]} if name in self.took else {}
            self.events.append(
                NewEvent(
                    "node.succeeded",
                    name,
                    {"attempt": state.attempt, "size": len(outcome.encoded.data), **took},
                )
            )
            entry = None
            if outcome.cache_key is not None:
                entry = CacheEntry(outcome.cache_key, self.graph.name, name)
            self.finishes.append(
                NodeFinish(row_id, "succeeded", now, output=outcome.encoded, logs=logs, cache=entry)
            )
            return
        error = None if outcome.error is None else self.redactor.text(outcome.error)
        trace = None if outcome.traceback is None else self.redactor.text(outcome.traceback)
        data: dict[str, Any] = {
            "attempt": state.attempt,
            "error_type": outcome.error_type,
            "error": error,
        }
        if outcome.interrupted:
            state.interruptions += 1
            will_retry = state.interruptions < node.max_interruptions
            delay = 0.0
            if not will_retry:
                error = data["error"] = f"interrupted {state.interruptions} times: {error}"
        else:
            state.failures += 1
            will_retry = outcome.retryable and state.failures <= node.retries
            delay = backoff(node.backoff, state.failures)
        retry_at = None
        if will_retry:
            state.status = "backoff"
            retry_at = now + dt.timedelta(seconds=delay)
            data["retry_in"] = round(delay, 3)
            data["retry_at"] = retry_at.timestamp()
            self.events.append(
                NewEvent("node.interrupted" if outcome.interrupted else "node.retrying", name, data)
            )
            self._spawn(_retry_after(name, delay), name)
        else:
            state.status = "failed"
            self.events.append(NewEvent("node.failed", name, data))
        self.finishes.append(
            NodeFinish(
                row_id,
                "failed",
                now,
                error_type=outcome.error_type,
                error_message=error,
                traceback=trace,
                logs=logs,
                will_retry=will_retry,
                retry_at=retry_at,
                keep_lease=outcome.still_executing,
            )
        )

    def _routed(self, name: str, outcome: _Outcome) -> _Outcome:
        """A branch's decision, followed: the successors it does not take become untaken;
        a decision naming none it may take fails the node, saying which it may."""
        node, choices = self.graph.nodes[name], self.plan.choices[name]
        try:
            unchosen = node.kind_impl.untaken(node, outcome.value, choices)
        except ValueError as exc:
            return _Outcome(
                False,
                error_type=type(exc).__name__,
                error=str(exc),
                logs=outcome.logs,
                retryable=False,
            )
        self._decided(name, choices, unchosen)
        return outcome

    def _decided(self, name: str, choices: Sequence[str], unchosen: set[str]) -> None:
        took = [c for c in choices if c not in unchosen]
        self.took[name] = took
        self.chosen.update(took)
        reason = f"branch {name!r} took {', '.join(took) or 'none of its paths'}"
        for other in choices:
            if other in unchosen:
                self.untaken.setdefault(other, f"not taken: {reason}")

    async def _follow_decisions(self) -> None:
        """Follow the branches that decided before this pass or elsewhere (an attempt another
        process finished): their checkpointed outputs are the decisions, and nodes skipped
        on untaken paths stay untaken (``runtime.statuses.untaken_nodes``)."""
        undecided = [
            name
            for name in self.plan.choices
            if self.nodes[name].status == "succeeded" and name not in self.took
        ]
        if not undecided:
            return
        for name in undecided:
            state, choices = self.nodes[name], self.plan.choices[name]
            node = self.graph.nodes[name]
            try:
                value = await self._value(name)
            except CodeUnavailable as exc:
                raise _Stalled(exc) from exc
            try:
                self._decided(name, choices, node.kind_impl.untaken(node, value, choices))
            except ValueError as exc:
                # recorded by a pass that stopped before it could check the decision
                state.status = "failed"
                error = {"error_type": type(exc).__name__, "error": str(exc)}
                self.events.append(NewEvent("node.failed", name, error))
        statuses = {name: state.status for name, state in self.nodes.items()}
        in_order = {n: self.plan.deps[n] for n in self.plan.order}  # what untaken_nodes reads
        for name in untaken_nodes(in_order, statuses):
            row = self.nodes[name].row
            reason = row.error_message if row is not None else None
            self.untaken.setdefault(name, reason or "on an untaken branch path")

    def _gate(self, name: str) -> tuple[Literal["go", "wait", "skip"], str]:
        """What a pending node's dependencies let it do: ``skip`` behind a failure, or on
        an untaken branch path (then it is in ``untaken``: a branch did not take it, or, for
        ``join="any"``, none of its branches did; or its ``join="all"`` has an input there,
        or all its inputs are); ``wait`` for dependencies still going; else ``go``. Inputs on
        untaken paths count as done."""
        deps = self.plan.deps[name]
        failed = next(
            (d for d in deps if self.nodes[d].status in NODE_BLOCKING and d not in self.untaken),
            None,
        )
        if failed is not None:
            self.untaken.pop(name, None)  # a failure upstream is what keeps it from running
            return "skip", f"upstream node {failed!r} did not succeed"
        join = self.graph.nodes[name].join
        if name in self.untaken and join == "all":
            return "skip", self.untaken[name]
        if any(self.nodes[d].status != "succeeded" for d in deps if d not in self.untaken):
            return "wait", ""
        if name in self.untaken:  # join="any", not taken by a branch: did another take it?
            if name not in self.chosen:
                return "skip", self.untaken[name]
            del self.untaken[name]
        off = [d for d in deps if d in self.untaken]
        if off and (join == "all" or len(off) == len(deps)):
            self.untaken[name] = f"on an untaken branch path (after {', '.join(off)})"
            return "skip", self.untaken[name]
        return "go", ""

    def _scrubbed(self, name: str, outcome: _Outcome) -> _Outcome:
        """The outcome with the stored secrets in its output replaced by ``[secret:NAME]``
        (downstream nodes get what is stored); a failure when that cannot be done."""
        assert outcome.encoded is not None
        what = f"output of node {name!r}"
        try:
            encoded = secrets.scrub(outcome.encoded, self.secrets, what=what)
        except secrets.SecretLeak as exc:
            return _Outcome(
                False, error_type="SecretLeak", error=str(exc), logs=outcome.logs, retryable=False
            )
        if encoded is outcome.encoded:
            return outcome
        value = codecs.decode(encoded.codec, encoded.data, self.engine.secret_key)
        return dataclasses.replace(outcome, encoded=encoded, value=value)

    async def _commit(self, starts: list[NodeStart]) -> None:
        if not (self.finishes or starts or self.events or self.give_up or self.interrupt):
            return
        if faults.PAUSES:
            await faults.pause("before_step")
        written = await self._write(
            self.store.astep,
            finishes=self.finishes,
            starts=starts,
            give_up=self.give_up,
            interrupt=self.interrupt,
            events=self.events,
        )
        self.finishes, self.events, self.give_up, self.interrupt = [], [], [], []
        self._announce(written)

    async def _write(self, write: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """A store write of this pass: numbered after our last event, fenced by our lease,
        and retried while the database is unreachable for as long as the lease may still be
        ours (nobody can take the run over meanwhile without seeing it unrenewed); a write
        the fence refuses ends the pass."""
        delay = 0.1
        while True:
            try:
                return await write(
                    self.lease,
                    *args,
                    next_seq=self.next_seq,
                    inline_limit=self.settings.inline_limit,
                    **kwargs,
                )
            except StaleWrite as exc:
                raise _LeaseLost from exc
            except StoreUnavailable as exc:
                if self.lease_lost:
                    raise _LeaseLost from exc
                if self.engine.closed:
                    raise _Closing from exc
                log.warning("run %s: %s; retrying in %.1fs", self.run.id, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _announce(self, written: list[EventDict]) -> None:
        if written:
            self.next_seq = written[-1]["seq"] + 1
        self.engine._announce(self.run.id, written)

    # -- ending the pass --------------------------------------------------------------------

    async def _finish(self) -> str | None:
        statuses = {s.status for s in self.nodes.values()}
        waiting = [s.row_id for s in self.nodes.values() if s.status == "waiting"]
        parked = [s.wake_at for s in self.nodes.values() if s.status in NODE_PARKED]
        wake_at = min((t for t in parked if t is not None), default=None)
        if waiting:
            # a person's answer is what the run waits for first; else its children's ends
            parks = {
                self.graph.nodes[n].kind_impl.parks
                for n, s in self.nodes.items()
                if s.status == "waiting"
            }
            status, error = ("waiting" if "waiting" in parks else "in_subgraph"), None
        elif self.sleeping:
            status, error = "sleeping", None
        elif "failed" in statuses:
            failed = [n for n, s in self.nodes.items() if s.status == "failed"]
            status, error = "failed", f"node(s) failed: {', '.join(failed)}"
        else:
            status, error = "succeeded", None
        data: dict[str, Any] = {"status": status}
        if error:
            data["error"] = error
        if waiting:
            data["waiting"] = [n for n, s in self.nodes.items() if s.status == "waiting"]
        if self.sleeping:
            data["sleeping"] = sorted(self.sleeping, key=self.position.__getitem__)
        if wake_at is not None:
            data["wake_at"] = wake_at.astimezone(dt.UTC).isoformat()
        written, settled = await self._write(
            self.store.afinish_run,
            status,
            error=error,
            expect_waiting=waiting,
            finishes=self.finishes,
            node_events=self.events,
            events=[NewEvent(f"run.{status}", data=data)],
            wake_at=wake_at,
        )
        self.finishes, self.events = [], []
        self._announce(written)
        if not settled:
            await self._reload_waits()
            return None
        if status not in RUN_FINISHED and any(e["type"] == "run.cancelled" for e in written):
            return "cancelled"  # a cancel came as it parked: the store ended it instead
        if wake_at is not None and self.engine.on_park is not None:
            self.engine.on_park(self.run.id, wake_at)
        return status

    async def _reload_waits(self) -> None:
        for row in await asyncio.to_thread(self.store.attempts, self.run.id):
            state = self.nodes.get(row.node)
            if state and state.status == "waiting" and row.id == state.row_id:
                if row.status == "failed":  # a child run failed: the node's retries decide
                    self._fold(row)
                    self._settle_latest(row.node)
                    self.candidates.add(row.node)
                else:
                    state.status, state.row, state.loaded = row.status, row, False  # type: ignore[assignment]
                self._touch_successors(row.node)

    async def _cancel(self) -> str:
        now = utcnow()
        for name, execution in list(self.executions.items()):
            execution.stop()
            execution.closed = True
            state = self.nodes[name]
            if state.status == "running" and state.row_id is not None:
                self.finishes.append(NodeFinish(state.row_id, "cancelled", now, keep_lease=True))
                self.events.append(NewEvent("node.cancelled", name, {"attempt": state.attempt}))
                state.status = "cancelled"
        self.executions.clear()
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        if self.give_up or self.interrupt:
            await self._commit([])
        written, _ = await self._write(
            self.store.afinish_run,
            "cancelled",
            error="cancelled by request",
            finishes=self.finishes,
            node_events=self.events,
            events=[NewEvent("run.cancelled", data={"status": "cancelled"})],
        )
        self.finishes, self.events = [], []
        self._announce(written)
        return "cancelled"

    def unstarted(self) -> list[int]:
        """Rows of attempts this pass started whose code it never began to execute."""
        return [
            s.row_id
            for name, s in self.nodes.items()
            if s.status == "running" and s.row_id is not None and name not in self.executions
        ]

    def detach(self) -> None:
        """The pass is over: executions it still had are the engine's to settle."""
        self.handing.stop()
        for execution in self.executions.values():
            execution.owner = None
            if execution.done.done():  # ended before this pass could record it
                self.engine.settle_later(execution)
        self.executions.clear()

    # -- lease and cancellation signals -----------------------------------------------------

    def lose(self) -> None:
        self.lease_lost = True
        self.cancelled.set()

    def _publish_tokens(self, node: str, attempt: int, text: str) -> None:
        # from the node's thread; both buses hand over without waiting on Redis
        text = self.token_redactor.feed((node, attempt), text)
        if not text:
            return
        self.engine.bus.publish(self.run.id, [token_event(self.run.id, node, attempt, text)])

    def _on_events(self, batch: list[Any]) -> None:
        # called from the publisher's thread
        self.handing.heard(batch)
        if any(e["type"] == "run.cancel_requested" for e in batch):
            loop = self.engine._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self.cancelled.set)


def _nothing() -> None:
    """A thread cannot be stopped: it runs to its end."""


def _failure(exc: BaseException, ctx: context.NodeContext) -> _Outcome:
    return _Outcome(
        False,
        error_type=type(exc).__name__,
        error=str(exc),
        traceback=_user_traceback(exc),
        logs=ctx.logs,
        documents=ctx.documents,
        retryable=not isinstance(exc, CodecError),
    )


def _call_sync(
    call: Call, ctx: context.NodeContext, encode: Callable[[Any], codecs.Encoded]
) -> _Outcome:
    """Runs in a worker thread: the call and the encoding stay off the event loop."""
    context.activate(ctx)
    try:
        value = call.fn(**call.kwargs)
        encoded = encode(value)
    except BaseException as exc:
        return _failure(exc, ctx)
    return _Outcome(
        True,
        encoded=encoded,
        value=codecs.as_stored(value, encoded),
        logs=ctx.logs,
        documents=ctx.documents,
    )


async def _call_async(
    call: Call, ctx: context.NodeContext, encode: Callable[[Any], codecs.Encoded]
) -> _Outcome:
    context.activate(ctx)
    try:
        value = await call.fn(**call.kwargs)
        encoded = encode(value)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return _failure(exc, ctx)
    return _Outcome(
        True,
        encoded=encoded,
        value=codecs.as_stored(value, encoded),
        logs=ctx.logs,
        documents=ctx.documents,
    )


async def _unblocked_after(execution: _Execution, name: str) -> _Unblocked:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.shield(execution.done)
    return _Unblocked(name)


_INTERNAL = (
    __file__,
    str(Path(asyncio.__file__).parent),
    str(Path(concurrent.futures.__file__).parent),
)
"""Where the frames between the engine and a node's own code live."""


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's code on: the engine's and thread pool's frames before
    it say nothing about the failure."""
    summary = traceback.TracebackException.from_exception(exc)
    frames = list(summary.stack)
    first = next((i for i, f in enumerate(frames) if not f.filename.startswith(_INTERNAL)), 0)
    summary.stack = traceback.StackSummary.from_list(frames[first:])
    return "".join(summary.format())


async def _retry_after(name: str, delay: float) -> _RetryDue:
    await clock.sleep(delay)
    return _RetryDue(name)
