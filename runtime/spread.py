"""One run spread across workers: ready nodes beyond what a pass executes itself are handed,
each as its own Taskiq message, to any worker process.

The unit handed out is an *attempt row*. The pass inserts it ``running`` and owned by its
*handed owner* (``<owner>:handed``), with an attempt lease it renews while the message waits.
The worker that receives the message claims the row (``Store.claim_attempt``: only while it
is still ``running`` and still the handed owner's, so a duplicate message or an attempt
already cut off is dropped), executes it through the engine's own attempt code (secrets,
redaction, isolation, documents, logs, timeout), renews its lease with its heartbeat like any
execution, and records the outcome with ``Store.finish_orphan`` (only if the row is still
``running`` and its own). The pass hears of it on the run's event channel; a slow round over
the run's rows (every ``lease_seconds / 3``) renews what is still unclaimed and catches what
the bus missed, and a claimed attempt whose lease ran out (its worker died) is closed as
interrupted and retried by the node's rules, like an attempt of a dead process found by
``_watch``. No succeeded attempt runs twice: a node's next attempt is started only by the
pass, after its latest attempt ended or was closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime import codecs
from runtime.errors import StoreUnavailable
from runtime.store import WORKER_LOST, Acquired, Lease, NewEvent, NodeFinish, NodeStart, Store
from runtime.store.tables import EventDict, NodeRun, utcnow

if TYPE_CHECKING:
    from runtime.engine import Engine, _Outcome, _Pass, _Watched

log = logging.getLogger("plait.spread")

HANDED = ":handed"

_ENDED = frozenset({"node.succeeded", "node.failed", "node.retrying", "node.interrupted"})
"""Event types a worker writes when a handed-out attempt ends."""


def handed_owner(owner: str) -> str:
    """The owner of the attempt rows a process has handed out and nobody has claimed yet."""
    return owner + HANDED


@dataclass(frozen=True)
class HandOut:
    """One handed-out attempt, as its Taskiq message carries it."""

    run_id: str
    node: str
    row_id: int
    lease_owner: str
    """The process whose pass handed it out (the run lease's owner then)."""
    epoch: int
    """That pass's run lease epoch: the attempt's documents are written under it, so a pass
    that lost the run has none written for it."""
    element: int | None = None
    """Set for an element of a map node (``node`` is then ``f"{map}[{element}]"``)."""
    attempt: int = 0
    """The element attempt's number (elements only)."""
    retry: bool = False
    """Whether a failure of this element attempt will be retried (the driver decided)."""
    handed_by: str | None = None
    """The owner of the row until it is claimed, when not ``lease_owner``'s handed owner (an
    element driven by a map node attempt that was itself handed out to another worker)."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "node": self.node,
            "row_id": self.row_id,
            "lease_owner": self.lease_owner,
            "epoch": self.epoch,
        }
        if self.element is not None:
            doc.update(element=self.element, attempt=self.attempt, retry=self.retry)
        if self.handed_by is not None:
            doc["handed_by"] = self.handed_by
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> HandOut:
        element = doc.get("element")
        return cls(
            doc["run_id"],
            doc["node"],
            int(doc["row_id"]),
            doc["lease_owner"],
            doc["epoch"],
            None if element is None else int(element),
            int(doc.get("attempt", 0)),
            bool(doc.get("retry", False)),
            doc.get("handed_by"),
        )

    @property
    def unclaimed_owner(self) -> str:
        """Who owns the row until a worker claims it."""
        return self.handed_by or handed_owner(self.lease_owner)


Sender = Callable[[HandOut], Awaitable[Any]]
"""Sends one hand-out to the workers' queue (set on the engine by a worker process)."""


@dataclass
class _Slot:
    """A node of this pass whose attempt another worker executes (or will)."""

    row_id: int = 0
    sent: float = 0.0
    """When its message was last sent (monotonic)."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    rows: list[NodeRun] | None = None
    """The node's rows as the last round read them (``None``: read them afresh)."""


class Handing:
    """What one pass has handed out."""

    def __init__(self, run: _Pass) -> None:
        self.run = run
        settings = run.settings
        self.send: Sender | None = run.engine.hand_out if settings.spread == "auto" else None
        self.limit = settings.spread_max if self.send is not None else 0
        keep = settings.node_concurrency if settings.spread_keep is None else settings.spread_keep
        self.keep = keep if self.limit else settings.node_concurrency
        self.owner = handed_owner(run.engine.owner)
        self.slots: dict[str, _Slot] = {}
        self.resend_after = 3 * settings.lease_seconds
        """An attempt still unclaimed this long after its message was sent is sent again."""
        self._round: asyncio.Future[None] | None = None

    def owner_for(self, name: str, running: int, *, here_only: bool = False) -> str | None:
        """Who executes the next attempt of this ready node: this process (``running`` is
        how many this pass executes now), a worker (the handed owner), or nobody yet.
        ``here_only``: a node whose attempt needs the pass's own state (one slot here at
        least, whatever ``keep`` says)."""
        if running < self.keep or (here_only and running < max(self.keep, 1)):
            return self.run.engine.owner
        if here_only:
            return None
        if len(self.slots) < self.limit:
            self.slots[name] = _Slot()
            return self.owner
        return None

    def launch(self, name: str, row_id: int) -> Awaitable[_Outcome | _Watched]:
        """The handed-out attempt's row exists: send it, then wait for its end."""
        self.slots[name].row_id = row_id
        self._start_rounds()
        return self._wait(name, send=True)

    def for_parts(self) -> dict[str, Any]:
        """What a driving kind's ``Scope`` gets to hand its parts (a map's elements) out:
        parts beyond ``keep`` go to the workers like nodes, each its own message."""
        send = self.send
        if send is None or not self.limit:
            return {}
        run = self.run

        async def hand_out(part: str, index: int, row_id: int, attempt: int, retry: bool) -> None:
            lease = run.lease
            await send(
                HandOut(
                    *(run.run.id, part, row_id, lease.owner, lease.epoch),
                    *(index, attempt, retry, self.owner),
                )
            )

        return {"hand_out": hand_out, "keep": self.keep, "handed_owner": self.owner}

    def adopt(self, name: str, row: NodeRun) -> bool:
        """A row this process handed out in an earlier pass: wait for it here again (and
        keep its lease while it is unclaimed)."""
        if row.owner != self.owner or row.id is None:
            return False
        self.slots[name] = _Slot(row.id)
        self._start_rounds()
        self.run._spawn(self._wait(name, send=False), name)
        return True

    def heard(self, batch: list[EventDict]) -> None:
        """Runs on the bus's thread: wake the waiters of handed-out nodes that ended."""
        names = [e["node"] for e in batch if e["type"] in _ENDED and e["node"]]
        loop = self.run.engine._loop
        if names and loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake, names)

    def _wake(self, names: list[str]) -> None:
        for name in names:
            slot = self.slots.get(name)
            if slot is not None:
                slot.rows = None
                slot.wake.set()

    def stop(self) -> None:
        if self._round is not None:
            self._round.cancel()

    async def _wait(self, name: str, *, send: bool) -> _Outcome | _Watched:
        from runtime.engine import _Watched

        run, slot = self.run, self.slots[name]
        handout = HandOut(run.run.id, name, slot.row_id, run.lease.owner, run.lease.epoch)
        slot.sent = time.monotonic()
        if send:
            assert self.send is not None
            try:
                await self.send(handout)
            except Exception as exc:
                log.warning(
                    "run %s: could not hand out node %r (%s); it runs here",
                    *(run.run.id, name, exc),
                )
                return await self._here(name)
        while True:
            await slot.wake.wait()
            slot.wake.clear()
            rows, slot.rows = slot.rows, None
            if rows is None:
                try:
                    rows = await asyncio.to_thread(run.store.node_attempts, run.run.id, name)
                except StoreUnavailable:
                    continue
            row = next((r for r in rows if r.id == slot.row_id), None)
            now = utcnow()
            if row is None or row.status != "running":
                if row is not None and row.will_retry and row.retry_at and row.retry_at > now:
                    # the worker decided on a retry after a backoff: it starts then
                    await asyncio.sleep((row.retry_at - now).total_seconds())
                self.slots.pop(name, None)
                return _Watched(name, rows, [])
            if row.owner == self.owner:
                if self.send is not None and time.monotonic() - slot.sent > self.resend_after:
                    # unclaimed for long: its message may have died with a worker that had
                    # taken it from the stream; another copy is safe, only one claim wins
                    slot.sent = time.monotonic()
                    with contextlib.suppress(Exception):
                        await self.send(handout)
                continue
            if row.lease_until is None or row.lease_until <= now:
                # claimed, and its worker stopped renewing it: the worker is gone
                self.slots.pop(name, None)
                return _Watched(name, rows, [slot.row_id])

    async def _here(self, name: str) -> _Outcome | _Watched:
        """The message could not be sent (Redis away): claim the attempt for this process
        and execute it like any of its own."""
        from runtime.engine import _Watched

        run, slot = self.run, self.slots.pop(name)
        claimed = await run.engine._db(
            run.store.claim_attempt,
            run.run.id,
            slot.row_id,
            self.owner,
            run.engine.owner,
            run.settings.lease_seconds,
        )
        if not claimed:
            rows = await asyncio.to_thread(run.store.node_attempts, run.run.id, name)
            return _Watched(name, rows, [])
        state, node = run.nodes[name], run.graph.nodes[name]
        state.status = "running"
        start = NodeStart(
            name, state.attempt, "running", row_id=slot.row_id, isolation=run._isolation(node)
        )
        return await run._attempt(node, start)

    def _start_rounds(self) -> None:
        if self._round is None or self._round.done():
            self._round = asyncio.ensure_future(self._rounds())

    async def _rounds(self) -> None:
        """While anything is handed out: renew the attempt leases nobody claimed yet, and
        show every waiter its rows (what the bus did not say, a worker that died)."""
        run = self.run
        seconds = run.settings.lease_seconds
        while self.slots:
            await asyncio.sleep(max(seconds / 3, 0.1))
            ids = [s.row_id for s in self.slots.values() if s.row_id]
            try:
                if ids:
                    await asyncio.to_thread(run.store.renew, self.owner, [], ids, seconds)
                rows = await asyncio.to_thread(run.store.attempts, run.run.id)
            except Exception as exc:
                log.warning("run %s: could not look at handed-out nodes: %s", run.run.id, exc)
                continue
            by_node: dict[str, list[NodeRun]] = {}
            for row in rows:
                by_node.setdefault(row.node, []).append(row)
            for name, slot in list(self.slots.items()):
                slot.rows = by_node.get(name, [])
                slot.wake.set()


# -- the worker's side -------------------------------------------------------------------


async def execute(engine: Engine, handout: HandOut) -> None:
    """Claim a handed-out attempt and execute it here, then record its outcome."""
    store, settings = engine.store, engine.settings
    engine._loop = asyncio.get_running_loop()
    # the claimed attempt's lease is renewed by the heartbeat like any execution's, also in
    # a worker that advances no run itself
    engine.heartbeat.ensure_started()
    claimed = await engine._db(
        store.claim_attempt,
        handout.run_id,
        handout.row_id,
        handout.unclaimed_owner,
        engine.owner,
        settings.lease_seconds,
    )
    if not claimed:
        log.info(
            "run %s: node %r attempt row %s is not to be claimed (a duplicate, or closed)",
            *(handout.run_id, handout.node, handout.row_id),
        )
        return
    with engine._lock:
        engine.claimed.add(handout.row_id)
    recording = False
    try:
        if handout.element is None:
            recording = await _execute(engine, handout)
        else:
            recording = await _execute_element(engine, handout)
    finally:
        if not recording:
            with engine._lock:
                engine.claimed.discard(handout.row_id)


async def _execute(engine: Engine, handout: HandOut) -> bool:
    """Whether the outcome was left to the recorder (which then owns the claim)."""
    from runtime.engine import _Pass, _Stalled

    store = engine.store
    name = handout.node
    try:
        run = await asyncio.to_thread(store.get_run, handout.run_id)
        graph = engine.load_graph(run.version_id)
        node = graph.nodes[name]
        upstream = await _upstream(store, run.id, graph.plan.deps[name])
        own = await asyncio.to_thread(store.node_attempts, run.id, name)
        lease = Lease(run.id, handout.lease_owner, handout.epoch)
        attempt = _Pass(engine, Acquired(run, lease, upstream, [], False), graph)
    except Exception as exc:
        await _give_back(engine, handout, f"cannot load the attempt here: {exc!r}")
        return False
    row = next(r for r in own if r.id == handout.row_id)
    for earlier in own:
        if earlier.id != row.id:
            attempt._fold(earlier)
    state = attempt.nodes[name]
    state.status, state.attempt, state.row_id = "running", row.attempt, row.id
    start = NodeStart(name, row.attempt, "running", row_id=row.id, isolation=row.isolation)
    try:
        outcome = await attempt._attempt(node, start)
    except _Stalled as exc:
        await _give_back(engine, handout, f"cannot read the node's inputs here: {exc}")
        return False
    attempt._record(name, outcome)
    for task in attempt.tasks:  # a retry timer: the pass starts the next attempt
        task.cancel()
    # the message (and its worker slot) is done: the outcome is written soon, the row's
    # lease renewed until then; should this process die first, the attempt is interrupted
    _recorder(engine, run.id).end(handout, attempt.finishes[-1], attempt.events)
    return True


@dataclass
class _Prepared:
    """What executing the elements of one map node attempt needs, loaded once per worker
    process (the ``over`` list and the other arguments are read from the store once)."""

    attempt: _Pass
    node: Any
    kwargs: dict[str, Any]
    encode: Callable[[Any], Any]


_prepared: dict[tuple[int, str, str, int], asyncio.Future[_Prepared]] = {}
_PREPARED_KEPT = 16
"""Map node attempts whose arguments a worker keeps (the latest ones)."""


async def _prepare(engine: Engine, handout: HandOut, name: str) -> _Prepared:
    """The map node's arguments, read once per worker, run and lease epoch (elements of
    one attempt arriving together share one read)."""
    key = (id(engine), handout.run_id, name, handout.epoch)
    ready = _prepared.get(key)
    if ready is None or (ready.done() and ready.exception() is not None):
        ready = asyncio.ensure_future(_load_arguments(engine, handout, name))
        _prepared[key] = ready
        while len(_prepared) > _PREPARED_KEPT:
            _prepared.pop(next(iter(_prepared)))
    return await asyncio.shield(ready)


async def _load_arguments(engine: Engine, handout: HandOut, name: str) -> _Prepared:
    from runtime.engine import _Pass

    store = engine.store
    run = await asyncio.to_thread(store.get_run, handout.run_id)
    graph = engine.load_graph(run.version_id)
    node = graph.nodes[name]
    upstream = await _upstream(store, run.id, graph.plan.deps[name])
    lease = Lease(run.id, handout.lease_owner, handout.epoch)
    attempt = _Pass(engine, Acquired(run, lease, upstream, [], False), graph)
    kwargs = await attempt._arguments(node)
    allow_pickle = graph.pickle if node.pickle is None else node.pickle
    encode = functools.partial(
        codecs.encode,
        allow_pickle=allow_pickle,
        what=f"output of node {name!r}",
        key=engine.secret_key,
    )
    return _Prepared(attempt, node, kwargs, encode)


async def _execute_element(engine: Engine, handout: HandOut) -> bool:
    """One handed-out map element: its code runs here (in the node threads, with the map's
    timeout), its end is recorded like a handed-out node's, with no event (the driver reads
    its element rows)."""
    from runtime.nodes.map import MapOptions, _Driver

    assert handout.element is not None
    name = handout.node.rpartition("[")[0]
    try:
        prepared = await _prepare(engine, handout, name)
        opts = MapOptions.model_validate(prepared.node.options or {})
        item = prepared.kwargs[opts.over][handout.element]
    except Exception as exc:
        await _give_back(engine, handout, f"cannot load the element here: {exc!r}", events=False)
        return False
    start = NodeStart(
        handout.node,
        handout.attempt,
        "running",
        row_id=handout.row_id,
        isolation="thread",
        element=handout.element,
    )
    scope = prepared.attempt._scope(start, prepared.encode)
    driver = _Driver(prepared.node, prepared.kwargs, scope)
    ended = await driver._element(handout.element, handout.row_id, handout.attempt, item)
    finish = NodeFinish(
        handout.row_id,
        "succeeded" if ended.ok else "failed",
        utcnow(),
        output=ended.encoded,
        error_type=ended.error_type,
        error_message=ended.error,
        traceback=ended.traceback,
        logs=ended.logs,
        will_retry=handout.retry and not ended.ok,
        keep_lease=ended.still_executing,
    )
    _recorder(engine, handout.run_id).end(handout, finish, [])
    return True


class _Recorder:
    """Writes the ends of one run's handed-out attempts that finish in this process: those
    finishing while a write is under way go together in the next one (each write locks the
    run row, and a wide fan-out's ends would queue on it one by one)."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self.engine, self.run_id = engine, run_id
        self.ends: list[tuple[HandOut, NodeFinish, list[NewEvent]]] = []
        self.writing = False
        self._task: asyncio.Future[None] | None = None

    def end(self, handout: HandOut, finish: NodeFinish, events: list[NewEvent]) -> None:
        self.ends.append((handout, finish, events))
        if not self.writing:
            self.writing = True
            self._task = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        engine = self.engine
        try:
            while self.ends:
                ends, self.ends = self.ends, []
                try:
                    written, events = await engine._db(
                        engine.store.finish_orphans,
                        self.run_id,
                        engine.owner,
                        [(finish, evs) for _, finish, evs in ends],
                        engine.settings.inline_limit,
                    )
                    engine._announce(self.run_id, events)
                    resubmit = engine.resubmit
                    if written and resubmit and not await _pass_alive(engine, ends[0][0]):
                        # the pass that handed them out is gone: have the run advanced now,
                        # not by the reaper
                        await asyncio.to_thread(resubmit, self.run_id)
                except Exception as exc:
                    # the rows stay running: once this process stops renewing them, the
                    # pass closes them as interrupted and they run again
                    log.warning(
                        "run %s: could not record handed-out attempts: %s", *(self.run_id, exc)
                    )
                with engine._lock:
                    engine.claimed.difference_update(h.row_id for h, _, _ in ends)
        finally:
            self.writing = False
            _recorders.pop((id(engine), self.run_id), None)


_recorders: dict[tuple[int, str], _Recorder] = {}


def _recorder(engine: Engine, run_id: str) -> _Recorder:
    key = (id(engine), run_id)
    if key not in _recorders:
        _recorders[key] = _Recorder(engine, run_id)
    return _recorders[key]


async def _give_back(engine: Engine, handout: HandOut, reason: str, *, events: bool = True) -> None:
    """This worker cannot execute the attempt (its code or inputs do not load here): close
    it as never started, so the pass starts another, without counting it as a failure."""
    log.error("run %s: node %r: %s", handout.run_id, handout.node, reason)
    finish = NodeFinish(
        handout.row_id,
        "failed",
        utcnow(),
        error_type=WORKER_LOST,
        error_message=reason,
        will_retry=True,
    )
    said = [NewEvent("node.interrupted", handout.node, {"error": reason})] if events else []
    with contextlib.suppress(Exception):
        written = await engine._db(
            engine.store.finish_orphan,
            handout.run_id,
            engine.owner,
            finish,
            said,
            engine.settings.inline_limit,
        )
        engine._announce(handout.run_id, written)


async def _pass_alive(engine: Engine, handout: HandOut) -> bool:
    try:
        run = await asyncio.to_thread(engine.store.get_run, handout.run_id)
    except Exception:
        return False
    until = run.lease_until
    return (
        run.lease_owner == handout.lease_owner
        and run.lease_epoch == handout.epoch
        and until is not None
        and until > utcnow()
    )


async def _upstream(store: Store, run_id: str, deps: Sequence[str]) -> list[NodeRun]:
    """The latest succeeded attempt of each dependency: what a handed-out attempt reads."""
    upstream: list[NodeRun] = []
    for dep in deps:
        rows = await asyncio.to_thread(store.node_attempts, run_id, dep)
        upstream.extend([r for r in rows if r.status == "succeeded"][-1:])
    return upstream
