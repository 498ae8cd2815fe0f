"""The engine: one *pass* over a run.

A pass takes the run's lease, loads its checkpoints, executes ready nodes in topological order
(independent ones concurrently, bounded), and commits each finished node together with the
attempts it unblocks in one transaction. It stops at the end, at a wait with nothing else to
do, on cancellation, or when it loses the lease. The same pass runs in-process (embedded) and
inside a Taskiq worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from runtime import codecs, context
from runtime.config import Settings
from runtime.errors import CodecError
from runtime.events import Bus
from runtime.graph import Graph, Node
from runtime.store import NewEvent, NodeFinish, NodeStart, StaleWrite, Store
from runtime.store.tables import EventDict, NodeRun, Run, utcnow

log = logging.getLogger("plait.engine")

GraphLoader = Callable[[int], Graph]
"""Returns the graph of a workflow version id."""

_MAX_BACKOFF = 300.0


@dataclass
class _Node:
    """What the pass knows about one node."""

    status: str = "pending"
    """pending | running | backoff | waiting | succeeded | failed | skipped | cancelled"""
    attempt: int = 0
    row_id: int | None = None
    failures: int = 0
    """Failed attempts that count against ``retries`` (an interrupted one does not)."""
    row: NodeRun | None = None
    value: Any = None
    loaded: bool = False


@dataclass
class _Outcome:
    name: str
    ok: bool
    encoded: codecs.Encoded | None = None
    value: Any = None
    error: BaseException | None = None
    traceback: str | None = None
    logs: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    retryable: bool = True


@dataclass
class _RetryDue:
    name: str


class _LeaseLost(Exception):
    pass


class _Closing(Exception):
    """The engine was closed mid-pass: the pass stops and leaves the run to another process."""


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
        self.closed = False
        context.install_log_capture()

    def close(self) -> None:
        """Stop taking node calls. Calls already in a thread finish there; a pass that wants
        to start another stops and releases its run, so another process resumes it."""
        self.closed = True
        self.node_threads.shutdown(wait=False)

    async def advance(self, run_id: str, *, steal_from: str | None = None) -> str | None:
        """Run one pass. Returns the run's status when the pass ends, or ``None`` when the
        run was not ours to advance (finished, waiting, or leased by a live process)."""
        taken = await self._db(
            self.store.acquire,
            run_id,
            self.owner,
            self.settings.lease_seconds,
            steal_from=steal_from,
        )
        if taken is None:
            return None
        run, events, first_pass = taken
        self._announce(run_id, events)
        try:
            graph = self.load_graph(run.version_id)
        except Exception as exc:
            # unsigned, tampered or unloadable code: nothing of it runs, and the run says why
            log.error("run %s: refusing to execute: %s", run_id, exc)
            reason = f"cannot load the workflow's code: {type(exc).__name__}: {exc}"
            written, _ = await self._db(
                self.store.finish_run,
                run_id,
                self.owner,
                "failed",
                error=reason,
                events=[NewEvent("run.failed", data={"status": "failed", "error": reason})],
            )
            self._announce(run_id, written)
            return "failed"
        try:
            return await _Pass(self, run, graph, events).execute(first_pass)
        except _LeaseLost:
            log.warning("run %s: lease lost to another process; this pass stops", run_id)
            return None
        except _Closing:
            log.warning(
                "run %s: shutting down mid-pass; the run is left to another process", run_id
            )
            await self._db(self.store.release, run_id, self.owner)
            return None
        except Exception:
            # release so another process (or a later recover) can pick it up at once
            log.exception("run %s: pass crashed", run_id)
            await self._db(self.store.release, run_id, self.owner)
            raise

    def _announce(self, run_id: str, events: list[EventDict]) -> None:
        if events:
            self.bus.publish(run_id, events)

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the store, riding out a database that is briefly unreachable."""
        delay = 0.1
        deadline = time.monotonic() + max(self.settings.lease_seconds, 10.0)
        while True:
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("database unavailable (%s); retrying in %.1fs", exc.orig, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


class _Pass:
    def __init__(self, engine: Engine, run: Run, graph: Graph, acquired: list[EventDict]) -> None:
        self.engine = engine
        self.store = engine.store
        self.run = run
        self.graph = graph
        self.plan = self.graph.plan
        self.nodes = {name: _Node() for name in self.plan.order}
        self.position = {name: i for i, name in enumerate(self.plan.order)}
        self.candidates: set[str] = set(self.plan.order)
        """Nodes whose readiness may have changed since the last schedule."""
        self.inputs = {k: self.store.load_input(v) for k, v in run.inputs.items()}
        self.tasks: dict[asyncio.Future[Any], str] = {}
        self.loop = asyncio.get_running_loop()
        self.cancelled = asyncio.Event()
        self.lease_lost = False
        self.next_seq: int | None = acquired[-1]["seq"] + 1 if acquired else None
        """Our next event number while we hold the lease (``None``: ask the table)."""

    # -- the loop ---------------------------------------------------------------------------

    async def execute(self, first_pass: bool) -> str:
        interrupted = [] if first_pass else self._load_checkpoints()
        unsubscribe = self.engine.bus.subscribe(self.run.id, self._on_events)
        heartbeat = asyncio.create_task(self._heartbeat())
        cancel_watch = asyncio.create_task(self.cancelled.wait())
        if self.run.cancel_requested:
            self.cancelled.set()
        finishes: list[NodeFinish] = []
        events: list[NewEvent] = [
            NewEvent("node.interrupted", name, {"attempt": self.nodes[name].attempt})
            for name in interrupted
        ]
        interrupted_rows = [self.nodes[n].row_id or 0 for n in interrupted]
        for name in interrupted:
            self.nodes[name].status = "pending"
        try:
            while True:
                starts = [] if self.cancelled.is_set() else self._schedule(events)
                if not (starts or self.tasks or interrupted_rows or self.cancelled.is_set()):
                    # nothing left to start: the last checkpoint and the run's end share a
                    # transaction
                    status = await self._finish(finishes, events)
                    finishes, events = [], []
                    if status is not None:
                        return status
                    continue  # a wait was answered while we worked
                await self._commit(finishes, starts, events, interrupted_rows)
                finishes, events, interrupted_rows = [], [], []
                self._launch(starts)
                if self.lease_lost:
                    raise _LeaseLost
                if self.cancelled.is_set():
                    return await self._cancel()
                if not self.tasks:
                    continue
                await asyncio.wait([*self.tasks, cancel_watch], return_when=asyncio.FIRST_COMPLETED)
                # siblings finishing together share one checkpoint transaction: let their
                # thread-to-loop callbacks land before collecting
                await asyncio.sleep(0)
                done = [task for task in (*self.tasks, cancel_watch) if task.done()]
                if self.lease_lost:
                    raise _LeaseLost
                for task in done:
                    if task is cancel_watch:
                        continue
                    self.tasks.pop(task)
                    result = task.result()
                    if isinstance(result, _RetryDue):
                        self.nodes[result.name].status = "pending"
                        self.candidates.add(result.name)
                    else:
                        finishes.append(self._record(result, events))
                        self._touch_successors(result.name)
        finally:
            unsubscribe()
            heartbeat.cancel()
            cancel_watch.cancel()
            for task in self.tasks:
                task.cancel()

    def _load_checkpoints(self) -> list[str]:
        """Fold attempt rows into node states; returns nodes whose attempt was cut off."""
        interrupted: list[str] = []
        for row in self.store.attempts(self.run.id):
            if row.node not in self.nodes:
                continue
            state = self.nodes[row.node]
            state.attempt, state.row_id, state.row, state.status = (
                row.attempt,
                row.id,
                row,
                row.status,
            )
            if row.status == "failed" and row.error_type != "Interrupted":
                state.failures += 1
        for name, state in self.nodes.items():
            if state.status == "running":
                interrupted.append(name)
            elif state.status == "failed" and state.row and state.row.will_retry:
                state.status = "pending"
        return interrupted

    def _schedule(self, events: list[NewEvent]) -> list[NodeStart]:
        """Pick ready nodes: skip those behind a failure, open waits, start the rest."""
        now = utcnow()
        starts: list[NodeStart] = []
        running = sum(1 for s in self.nodes.values() if s.status == "running")
        for name in sorted(self.candidates, key=self.position.__getitem__):
            state = self.nodes[name]
            if state.status != "pending":
                self.candidates.discard(name)
                continue
            dep_states = [self.nodes[d].status for d in self.plan.deps[name]]
            blocked_by = next(
                (
                    d
                    for d in self.plan.deps[name]
                    if self.nodes[d].status in ("failed", "skipped", "cancelled")
                ),
                None,
            )
            if blocked_by is not None:
                state.status, state.attempt = "skipped", state.attempt + 1
                reason = f"upstream node {blocked_by!r} did not succeed"
                starts.append(
                    NodeStart(name, state.attempt, "skipped", now, now, error_message=reason)
                )
                events.append(NewEvent("node.skipped", name, {"reason": reason}))
                self._touch_successors(name)
                continue
            if any(s != "succeeded" for s in dep_states):
                self.candidates.discard(name)  # a dependency finishing brings it back
                continue
            node = self.graph.nodes[name]
            if node.kind == "wait":
                state.status, state.attempt = "waiting", state.attempt + 1
                starts.append(NodeStart(name, state.attempt, "waiting", now))
                events.append(NewEvent("node.waiting", name, {"attempt": state.attempt}))
                continue
            if running >= self.engine.settings.node_concurrency:
                continue
            running += 1
            state.status, state.attempt = "running", state.attempt + 1
            starts.append(NodeStart(name, state.attempt, "running", now))
            events.append(NewEvent("node.running", name, {"attempt": state.attempt}))
        return starts

    def _touch_successors(self, name: str) -> None:
        self.candidates.update(self.plan.successors[name])

    def _launch(self, starts: list[NodeStart]) -> None:
        for start in starts:
            state = self.nodes[start.node]
            state.row_id = start.row_id
            if start.status == "running":
                task = asyncio.ensure_future(self._execute(self.graph.nodes[start.node], start))
                self.tasks[task] = start.node

    # -- executing one attempt --------------------------------------------------------------

    async def _execute(self, node: Node, start: NodeStart) -> _Outcome:
        ctx = context.NodeContext(self.run.id, node.name, start.attempt)
        ctx.saver = functools.partial(self._save_document, node.name)
        try:
            kwargs = await self._arguments(node)
            allow_pickle = self.graph.pickle if node.pickle is None else node.pickle
            encode = functools.partial(
                codecs.encode,
                allow_pickle=allow_pickle,
                what=f"output of node {node.name!r}",
                key=self.engine.secret_key,
            )
            if node.kind == "runnable":
                value = await self._with_timeout(node, self._invoke_runnable(node, kwargs, ctx))
                encoded = encode(value)
            elif node.is_async:
                value = await self._with_timeout(node, self._call_async(node, kwargs, ctx))
                encoded = encode(value)
            else:
                call = functools.partial(
                    contextvars.copy_context().run, _call_sync, node, kwargs, ctx, encode
                )
                try:
                    running = asyncio.get_running_loop().run_in_executor(
                        self.engine.node_threads, call
                    )
                except RuntimeError:
                    if self.engine.closed:
                        raise _Closing from None
                    raise
                value, encoded = await self._with_timeout(node, running)
            return _Outcome(
                node.name,
                True,
                encoded=encoded,
                value=codecs.as_stored(value, encoded),
                logs=ctx.logs,
                documents=ctx.documents,
            )
        except (asyncio.CancelledError, _Closing):
            raise
        except BaseException as exc:
            return _Outcome(
                node.name,
                False,
                error=exc,
                traceback=_user_traceback(exc),
                logs=ctx.logs,
                documents=ctx.documents,
                retryable=not isinstance(exc, CodecError),
            )

    async def _with_timeout(self, node: Node, awaitable: Any) -> Any:
        if node.timeout is None:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, node.timeout)
        except TimeoutError:
            raise TimeoutError(
                f"node {node.name!r} exceeded its {node.timeout:g}s timeout"
            ) from None

    async def _call_async(self, node: Node, kwargs: dict, ctx: context.NodeContext) -> Any:
        context.activate(ctx)
        return await node.target(**kwargs)

    async def _invoke_runnable(self, node: Node, kwargs: dict, ctx: context.NodeContext) -> Any:
        context.activate(ctx)
        payload: Any = kwargs
        if len(node.inputs) == 1:
            payload = next(iter(kwargs.values()))
        return await node.target.ainvoke(payload)

    async def _arguments(self, node: Node) -> dict[str, Any]:
        kwargs = {}
        for param, source in node.inputs.items():
            if source in self.nodes:
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
                row = next(r for r in self.store.attempts(self.run.id) if r.id == state.row_id)
            value = await asyncio.to_thread(self.store.load_output, row)
            node = self.graph.nodes[name]
            if node.kind == "wait" and node.schema is not None:
                model = node.schema.model_validate(value)
                value = model.model_dump() if node.payload_as_dict else model
            state.value, state.loaded = value, True
        return state.value

    # -- recording outcomes -----------------------------------------------------------------

    def _save_document(self, node: str, name: str, content: Any, kind: str | None) -> None:
        """Runs in the node's own thread (or task): the document is stored at once; its
        event is written with the node's checkpoint."""
        kind = kind or _document_kind(content)
        encoded = codecs.encode(content, what=f"document {name!r} of node {node!r}")
        self.store.save_document(
            self.run.id, node, name, kind, encoded, self.engine.settings.inline_limit
        )

    def _record(self, outcome: _Outcome, events: list[NewEvent]) -> NodeFinish:
        name = outcome.name
        events.extend(
            NewEvent("document.saved", name, {"name": document}) for document in outcome.documents
        )
        state = self.nodes[name]
        node = self.graph.nodes[name]
        now = utcnow()
        logs = "\n".join(outcome.logs) or None
        if outcome.ok:
            state.status, state.value, state.loaded = "succeeded", outcome.value, True
            events.append(
                NewEvent(
                    "node.succeeded",
                    name,
                    {"attempt": state.attempt, "size": len(outcome.encoded.data)},
                )
            )
            return NodeFinish(state.row_id, "succeeded", now, output=outcome.encoded, logs=logs)
        state.failures += 1
        error = outcome.error
        will_retry = outcome.retryable and state.failures <= node.retries
        data = {
            "attempt": state.attempt,
            "error_type": type(error).__name__,
            "error": str(error),
        }
        if will_retry:
            delay = _backoff(node.backoff, state.failures)
            state.status = "backoff"
            data["retry_in"] = round(delay, 3)
            events.append(NewEvent("node.retrying", name, data))
            task = asyncio.ensure_future(_retry_after(name, delay))
            self.tasks[task] = name
        else:
            state.status = "failed"
            events.append(NewEvent("node.failed", name, data))
        return NodeFinish(
            state.row_id,  # type: ignore[arg-type]
            "failed",
            now,
            error_type=type(error).__name__,
            error_message=str(error),
            traceback=outcome.traceback,
            logs=logs,
            will_retry=will_retry,
        )

    async def _commit(
        self,
        finishes: list[NodeFinish],
        starts: list[NodeStart],
        events: list[NewEvent],
        interrupted: list[int],
    ) -> None:
        if not (finishes or starts or events or interrupted):
            return
        written = await self._write(
            self.store.step,
            finishes=finishes,
            starts=starts,
            interrupted=interrupted,
            events=events,
        )
        self._announce(written)

    async def _write(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A store write of this pass: numbered after our last event, riding out a briefly
        unreachable database; a guarded write that finds the run taken over ends the pass."""
        try:
            return await self.engine._db(
                write,
                self.run.id,
                *args,
                next_seq=self.next_seq,
                inline_limit=self.engine.settings.inline_limit,
                **kwargs,
            )
        except StaleWrite as exc:
            raise _LeaseLost from exc

    def _announce(self, written: list[EventDict]) -> None:
        if written:
            self.next_seq = written[-1]["seq"] + 1
        self.engine._announce(self.run.id, written)

    # -- ending the pass --------------------------------------------------------------------

    async def _finish(self, finishes: list[NodeFinish], node_events: list[NewEvent]) -> str | None:
        statuses = {s.status for s in self.nodes.values()}
        waiting = [s.row_id for s in self.nodes.values() if s.status == "waiting"]
        if waiting:
            status, error = "waiting", None
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
        written, settled = await self._write(
            self.store.finish_run,
            self.engine.owner,
            status,
            error=error,
            expect_waiting=waiting,
            finishes=finishes,
            node_events=node_events,
            events=[NewEvent(f"run.{status}", data=data)],
        )
        self._announce(written)
        if not settled:
            self._reload_waits()
            return None
        return status

    def _reload_waits(self) -> None:
        for row in self.store.attempts(self.run.id):
            state = self.nodes.get(row.node)
            if state and state.status == "waiting" and row.id == state.row_id:
                state.status, state.row, state.loaded = row.status, row, False
                self._touch_successors(row.node)

    async def _cancel(self) -> str:
        now = utcnow()
        finishes: list[NodeFinish] = []
        events: list[NewEvent] = []
        for task, name in list(self.tasks.items()):
            task.cancel()
            state = self.nodes[name]
            if state.status == "running" and state.row_id is not None:
                finishes.append(NodeFinish(state.row_id, "cancelled", now))
                events.append(NewEvent("node.cancelled", name, {"attempt": state.attempt}))
                state.status = "cancelled"
        self.tasks.clear()
        written, _ = await self._write(
            self.store.finish_run,
            self.engine.owner,
            "cancelled",
            error="cancelled by request",
            finishes=finishes,
            node_events=events,
            events=[NewEvent("run.cancelled", data={"status": "cancelled"})],
        )
        self._announce(written)
        return "cancelled"

    # -- lease and cancellation signals -----------------------------------------------------

    def _on_events(self, batch: list[Any]) -> None:
        # called from the publisher's thread
        if any(e["type"] == "run.cancel_requested" for e in batch):
            self.loop.call_soon_threadsafe(self.cancelled.set)

    async def _heartbeat(self) -> None:
        period = self.engine.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(period)
            try:
                cancel = await asyncio.to_thread(
                    self.store.renew,
                    self.run.id,
                    self.engine.owner,
                    self.engine.settings.lease_seconds,
                )
            except OperationalError:
                continue  # the next beat tries again; the lease has slack of two periods
            if cancel is None:
                self.lease_lost = True
                self.cancelled.set()
                return
            if cancel:
                self.cancelled.set()


def _call_sync(
    node: Node, kwargs: dict, ctx: context.NodeContext, encode: Callable[[Any], codecs.Encoded]
) -> tuple[Any, codecs.Encoded]:
    """Runs in a worker thread: the call and the encoding stay off the event loop."""
    context.activate(ctx)
    value = node.target(**kwargs)
    return value, encode(value)


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


def _document_kind(content: Any) -> str:
    if isinstance(content, bytes):
        return "image" if content.startswith(b"\x89PNG") else "text"
    if isinstance(content, str):
        return "markdown"
    module = type(content).__module__
    if module.startswith("pandas"):
        return "table"
    return "json"


def _backoff(base: float, failures: int) -> float:
    """Exponential backoff with full jitter between 50% and 100% of the step."""
    step = min(base * 2 ** (failures - 1), _MAX_BACKOFF)
    return step * random.uniform(0.5, 1.0)


async def _retry_after(name: str, delay: float) -> _RetryDue:
    await asyncio.sleep(delay)
    return _RetryDue(name)
