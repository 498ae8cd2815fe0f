"""``map``: a function run once per element of a list another node produces at run time.

Each element is its own attempt row (``NodeStart.element``; ``node`` is ``squares[17]``), with
its own retries, timeout and lease, checkpointed as it ends: the map node's attempt *drives*
them from the pass's event loop (``NodeKind.drives``), batching the starts and ends of many
elements into one checkpoint transaction. A later attempt of the map node (after a kill, a
lost lease, a retried run) reads its element rows once and runs only the elements that have
not succeeded. Its output is the list of results in input order.

``on_error="fail"``: the node fails once every element has ended, when any failed for good;
its error names the failed indexes. ``on_error="collect"``: it succeeds with ``None`` at the
failed indexes, saves the document ``errors`` (``{index: "Type: message"}``) and the run goes
on with the successes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import heapq
import inspect
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from runtime import clock, codecs, context
from runtime.backoff import backoff
from runtime.nodes.function import FunctionKind
from runtime.nodes.kind import Call, Scope
from runtime.nodes.map_body import MapBody, check_map, prepare_map

if TYPE_CHECKING:
    from runtime.nodes.node import Node

OnError = Literal["fail", "collect"]
_PROGRESS_SECONDS = 0.5
"""At most one ``map.progress`` event this often (and one at the end)."""
_SHOWN_FAILURES = 10
"""Failed indexes a map node's error lists before it says how many more."""
_LOST = ("Interrupted", "WorkerLost")
"""Element attempts cut off by the death of their process: run again, not counted."""
_WATCH_SECONDS = 0.2
"""How often, at least, the driver reads its element rows while elements are handed out."""
_GIVEN_BACK_SECONDS = 1.0
"""Before an element a worker could not load is started again."""


_releasing: set[asyncio.Future[None]] = set()


class MapOptions(pydantic.BaseModel):
    """How a map node runs its elements."""

    over: str
    """The node (or run input) whose list is mapped; the function's parameter of that name
    gets one element."""
    concurrency: int = pydantic.Field(16, ge=1)
    """Elements executing at once."""
    on_error: OnError = "fail"
    """``fail``: the node fails if an element failed for good; ``collect``: it succeeds
    with ``None`` at the failed indexes."""
    retries: int = pydantic.Field(0, ge=0)
    """Extra attempts of each element after a failure."""
    backoff: float = pydantic.Field(1.0, ge=0)
    """Seconds before an element's first retry; doubles each attempt, with jitter."""
    timeout: float | None = pydantic.Field(None, gt=0)
    """Seconds one element attempt may take before it fails with ``TimeoutError``."""
    body: MapBody | None = None
    """What runs per element when it is a library node (``runtime.nodes.map_body``);
    ``None`` for a function map (``g.map``), whose options never hold the key."""


class MapError(Exception):
    """Elements of a map node failed for good (``on_error="fail"``)."""


class MapKind(FunctionKind):
    name = "map"
    options = MapOptions
    drives = True

    def call(self, node: Node, kwargs: dict[str, Any]) -> Call:
        raise NotImplementedError("a map node runs inside a pass (call_in)")

    def prepare(self, node: Node) -> None:
        prepare_map(node)  # only a map added by kind (with a body) gets here

    def check(self, node: Node) -> None:
        check_map(node)

    def code_ref(self, node: Node) -> str | None:
        return None if _has_body(node) else super().code_ref(node)

    def source(self, node: Node) -> str | None:
        return None if _has_body(node) else super().source(node)

    def call_in(self, node: Node, kwargs: dict[str, Any], scope: Scope) -> Call:
        return Call(functools.partial(_Driver(node, kwargs, scope).run), {}, True)

    def is_async(self, node: Node) -> bool:
        return True


def _has_body(node: Node) -> bool:
    return bool((node.options or {}).get("body"))


def element_name(node: str, index: int) -> str:
    """The ``node`` of an element's attempt rows."""
    return f"{node}[{index}]"


@dataclasses.dataclass(slots=True)
class _Element:
    """What the driver knows about one element."""

    attempt: int = 0
    failures: int = 0
    row_id: int | None = None


@dataclasses.dataclass(slots=True)
class _Ended:
    index: int
    row_id: int
    attempt: int
    ok: bool
    value: Any = None
    encoded: Any = None
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None
    logs: str | None = None
    still_executing: bool = False
    recorded: bool = False
    """Ended in another worker process, which wrote its end (``runtime.spread``)."""


@dataclasses.dataclass(slots=True)
class _Lost:
    """A handed-out element whose worker died with it (or that could not be sent): it
    starts again; its row, when still ``running``, is closed as interrupted."""

    index: int
    row_id: int | None


@dataclasses.dataclass(slots=True)
class _Handed:
    """An element attempt handed out to another worker process, waiting for its end."""

    index: int
    attempt: int
    retry: bool
    done: asyncio.Future[_Ended | _Lost]
    sent: float
    """When its message was last sent (monotonic)."""


class _Driver:
    """One attempt of a map node: runs its unfinished elements and returns the results."""

    def __init__(self, node: Node, kwargs: dict[str, Any], scope: Scope) -> None:
        opts = MapOptions.model_validate(node.options or {})
        self.node, self.kwargs, self.scope, self.opts = node, kwargs, scope, opts
        self.fn = node.target
        self.results: dict[int, Any] = {}
        self.errors: dict[int, str] = {}
        self.elements: dict[int, _Element] = {}
        self.finishes: list[Any] = []
        self.interrupt: list[int] = []
        self.new_failures: list[list[Any]] = []
        self.running: dict[asyncio.Future[Any], int] = {}
        self.inner: dict[int, asyncio.Future[Any]] = {}
        """Element row -> its code's future (a thread's ends only when the code returns)."""
        self.mine: set[int] = set()
        """Element rows this attempt started that may still hold a lease."""
        self.timers: list[tuple[float, int]] = []
        self.last_progress = 0.0
        self.total = 0
        self.handed: dict[int, _Handed] = {}
        """Element row -> its attempt handed out to another worker (``Scope.hand_out``)."""
        self.remote: set[asyncio.Future[Any]] = set()
        """The tasks of ``running`` that wait on handed-out elements."""
        self.watcher: asyncio.Future[None] | None = None

    async def run(self) -> Any:
        items = self.kwargs.get(self.opts.over)
        if not isinstance(items, list | tuple):
            raise TypeError(
                f"map node {self.node.name!r}: {self.opts.over!r} must give a list to map "
                f"over, got {type(items).__name__}"
            )
        self.total = len(items)
        pending = await self._resume()
        try:
            await self._loop(items, pending)
        finally:
            self._abandon()
        return self._outcome()

    async def _resume(self) -> deque[int]:
        """Read the element rows once: keep what succeeded, count failures, close the rows
        of dead attempts, and wait out the live leases of another process's."""
        from runtime.store.tables import utcnow

        while True:
            rows = await asyncio.to_thread(
                self.scope.store.element_attempts, self.scope.run_id, self.node.name
            )
            now = utcnow()
            live = [
                r
                for r in rows
                if r.status == "running"
                and r.lease_until is not None
                and r.lease_until > now
                and (r.owner != self.scope.owner or r.id in self.scope.tracked)
            ]
            if not live:
                break
            # another attempt's element code may still run: wait until it returned or died
            until = max(r.lease_until for r in live)
            await asyncio.sleep(min(max((until - now).total_seconds(), 0.05), 1.0))
        latest: dict[int, Any] = {}
        floor = self.scope.retry_floor
        for row in rows:
            if row.element is None or row.element >= self.total:
                continue
            state = self.elements.setdefault(row.element, _Element())
            state.attempt = max(state.attempt, row.attempt)
            latest[row.element] = row
            before_retry = floor is not None and row.id <= floor
            if row.status == "failed" and row.error_type not in _LOST and not before_retry:
                state.failures += 1
        pending: deque[int] = deque()
        for index in range(self.total):
            row = latest.get(index)
            if row is None:
                pending.append(index)
            elif row.status == "succeeded":
                self.results[index] = await self._load(row)
            elif row.status == "running":
                self.interrupt.append(row.id)  # its process is gone: closed as cut off
                pending.append(index)
            elif (
                row.status == "failed"
                and not row.will_retry
                and not (floor is not None and row.id <= floor)
                and row.error_type not in _LOST
            ):
                self.errors[index] = f"{row.error_type}: {row.error_message}"
            else:
                pending.append(index)
        return pending

    async def _load(self, row: Any) -> Any:
        # inline values decode from the row already read; only large ones read their blob
        from runtime.store import values

        stored = values.from_columns(row)
        if stored is not None and values.needs_connection(stored):
            return await asyncio.to_thread(self.scope.store.load_output, row)
        return self.scope.store.load_output(row)

    async def _loop(self, items: list[Any] | tuple[Any, ...], pending: deque[int]) -> None:
        from runtime.store import NewEvent, NodeFinish, NodeStart
        from runtime.store.tables import utcnow

        scope, name = self.scope, self.node.name
        while True:
            due = clock.current().monotonic()
            while self.timers and self.timers[0][0] <= due:
                pending.append(heapq.heappop(self.timers)[1])
            now = utcnow()
            starts: list[NodeStart] = []
            here = len(self.running) - len(self.remote)
            while pending and len(self.running) + len(starts) < self.opts.concurrency:
                index = pending.popleft()
                state = self.elements.setdefault(index, _Element())
                state.attempt += 1
                # beyond what this process keeps, elements go to other workers
                handed = scope.hand_out is not None and here >= scope.keep
                here += not handed
                starts.append(
                    NodeStart(
                        element_name(name, index),
                        state.attempt,
                        "running",
                        now,
                        owner=scope.handed_owner if handed else scope.owner,
                        lease_until=now + dt.timedelta(seconds=scope.lease_seconds),
                        isolation="thread",
                        element=index,
                    )
                )
            finishes = [
                NodeFinish(
                    e.row_id,
                    "succeeded" if e.ok else "failed",
                    now,
                    output=e.encoded,
                    error_type=e.error_type,
                    error_message=e.error,
                    traceback=e.traceback,
                    logs=e.logs,
                    will_retry=will_retry,
                    keep_lease=e.still_executing,
                )
                for e, will_retry in self.finishes
            ]
            final = not (pending or self.running or self.timers or starts)
            events = self._progress(time.monotonic(), final=final)
            if starts or finishes or self.interrupt or events:
                write = asyncio.ensure_future(
                    scope.checkpoint(
                        finishes=finishes,
                        starts=starts,
                        interrupt=self.interrupt,
                        events=[NewEvent("map.progress", name, data) for data in events],
                    )
                )
                try:
                    await asyncio.shield(write)
                except asyncio.CancelledError:
                    # cancelled mid-write: the write lands or not; rows it started hold a
                    # lease nothing executes, which ``_abandon`` lets go
                    with contextlib.suppress(BaseException):
                        await write
                    self.mine.update(s.row_id for s in starts if s.row_id is not None)
                    raise
                for ended, _ in self.finishes:
                    if not ended.still_executing:
                        scope.tracked.discard(ended.row_id)
                        self.mine.discard(ended.row_id)
                self.finishes, self.interrupt = [], []
            for start in starts:
                assert start.row_id is not None and start.element is not None
                self.elements[start.element].row_id = start.row_id
                if start.owner != scope.owner:
                    self._hand(start.element, start.row_id, start.attempt, items[start.element])
                    continue
                scope.tracked.add(start.row_id)
                self.mine.add(start.row_id)
                task = asyncio.ensure_future(
                    self._element(start.element, start.row_id, start.attempt, items[start.element])
                )
                self.running[task] = start.element
            if final:
                return
            if not (self.running or self.timers):
                continue
            ticks = clock.current()
            wait = None if not self.timers else max(self.timers[0][0] - ticks.monotonic(), 0)
            # the next retry's timer is the clock's (a test's clock passes it at once)
            timer = [asyncio.ensure_future(ticks.sleep(wait))] if wait else []
            if self.running:
                await asyncio.wait(
                    [*self.running, *timer],
                    timeout=0 if wait == 0 else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                # elements ending together share one checkpoint
                await asyncio.sleep(0)
            elif timer:
                await timer[0]
            else:
                await asyncio.sleep(0)
            for tick in timer:
                tick.cancel()
            for finished in [t for t in self.running if t.done()]:
                del self.running[finished]
                self.remote.discard(finished)
                self._ended(finished.result())

    def _ended(self, ended: _Ended | _Lost | int) -> None:
        if isinstance(ended, int):  # a timed-out element's code returned: its retry is due
            heapq.heappush(self.timers, (clock.current().monotonic(), ended))
            return
        if isinstance(ended, _Lost):  # not counted as a failure: it simply runs again
            if ended.row_id is not None:
                self.interrupt.append(ended.row_id)
            heapq.heappush(self.timers, (clock.current().monotonic(), ended.index))
            return
        state = self.elements[ended.index]
        if ended.recorded:
            self._ended_elsewhere(ended, state)
            return
        if ended.ok:
            self.results[ended.index] = ended.value
            self.finishes.append((ended, False))
            return
        state.failures += 1
        will_retry = state.failures <= self.opts.retries
        self.finishes.append((ended, will_retry))
        if will_retry and ended.still_executing:
            # two attempts of an element never run at once: the retry waits for the code
            # (holding its slot), then for its backoff
            self.running[asyncio.ensure_future(self._returned(ended))] = ended.index
        elif will_retry:
            self._retry_later(ended.index, state.failures)
        else:
            self._failed_for_good(ended)

    def _ended_elsewhere(self, ended: _Ended, state: _Element) -> None:
        """A handed-out element's end, already written by its worker (with the same retry
        decision this driver makes)."""
        if ended.ok:
            self.results[ended.index] = ended.value
            return
        if ended.error_type in _LOST:  # the worker could not load it: another one may
            due = clock.current().monotonic() + _GIVEN_BACK_SECONDS
            heapq.heappush(self.timers, (due, ended.index))
            return
        state.failures += 1
        if state.failures <= self.opts.retries:
            self._retry_later(ended.index, state.failures)
        else:
            self._failed_for_good(ended)

    def _retry_later(self, index: int, failures: int) -> None:
        due = clock.current().monotonic() + backoff(self.opts.backoff, failures)
        heapq.heappush(self.timers, (due, index))

    def _failed_for_good(self, ended: _Ended) -> None:
        self.errors[ended.index] = f"{ended.error_type}: {ended.error}"
        self.new_failures.append([ended.index, ended.error_type, ended.error])

    # -- elements handed out to other workers ------------------------------------------------

    def _hand(self, index: int, row_id: int, attempt: int, item: Any) -> None:
        state = self.elements[index]
        retry = state.failures < self.opts.retries
        done: asyncio.Future[_Ended | _Lost] = asyncio.get_running_loop().create_future()
        self.handed[row_id] = _Handed(index, attempt, retry, done, time.monotonic())
        task = asyncio.ensure_future(self._remote(index, row_id, attempt, item))
        self.running[task] = index
        self.remote.add(task)
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.ensure_future(self._watching())

    async def _remote(self, index: int, row_id: int, attempt: int, item: Any) -> _Ended | _Lost:
        scope, waiting = self.scope, self.handed[row_id]
        assert scope.hand_out is not None
        try:
            try:
                await scope.hand_out(
                    element_name(self.node.name, index), index, row_id, attempt, waiting.retry
                )
            except Exception:
                # the queue is away: claim the element and execute it here
                self.handed.pop(row_id, None)
                claimed = await asyncio.to_thread(
                    scope.store.claim_attempt,
                    scope.run_id,
                    row_id,
                    scope.handed_owner,
                    scope.owner,
                    scope.lease_seconds,
                )
                if not claimed:  # sent after all, and claimed: its worker ends it
                    self.handed[row_id] = waiting
                    return await waiting.done
                scope.tracked.add(row_id)
                self.mine.add(row_id)
                self.remote.discard(asyncio.current_task())
                return await self._element(index, row_id, attempt, item)
            return await waiting.done
        finally:
            self.handed.pop(row_id, None)

    async def _watching(self) -> None:
        """While elements are handed out: read the element rows (the ends their workers
        wrote, workers that died), renew the leases of rows nobody claimed yet, and send
        again what stayed unclaimed for long (its message may have died with a worker)."""
        from runtime.store.tables import utcnow

        scope = self.scope
        pause, renewed = _WATCH_SECONDS, time.monotonic()
        while self.handed:
            await asyncio.sleep(pause)
            began = time.monotonic()
            try:
                rows = await asyncio.to_thread(
                    scope.store.attempt_rows, scope.run_id, list(self.handed)
                )
            except Exception:
                continue
            # many rows take a while to read: read them less often then
            pause = max(_WATCH_SECONDS, 2 * (time.monotonic() - began))
            now, clock = utcnow(), time.monotonic()
            unclaimed: list[int] = []
            for row in rows:
                waiting = self.handed.get(row.id)
                if waiting is None or waiting.done.done():
                    continue
                if row.status != "running":
                    ok = row.status == "succeeded"
                    try:
                        value = await self._load(row) if ok else None
                    except Exception:
                        continue
                    ended = _Ended(
                        waiting.index,
                        row.id,
                        waiting.attempt,
                        ok,
                        value,
                        error_type=row.error_type,
                        error=row.error_message,
                        recorded=True,
                    )
                    if not waiting.done.done():
                        waiting.done.set_result(ended)
                elif row.owner == scope.handed_owner:
                    unclaimed.append(row.id)
                    if clock - waiting.sent > 3 * scope.lease_seconds and scope.hand_out:
                        waiting.sent = clock  # another copy is safe: only one claim wins
                        with contextlib.suppress(Exception):
                            await scope.hand_out(
                                element_name(self.node.name, waiting.index),
                                *(waiting.index, row.id, waiting.attempt, waiting.retry),
                            )
                elif row.lease_until is None or row.lease_until <= now:
                    # claimed, and its worker stopped renewing it: the worker is gone
                    waiting.done.set_result(_Lost(waiting.index, row.id))
            if unclaimed and clock - renewed > scope.lease_seconds / 3:
                renewed = clock
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        scope.store.renew, scope.handed_owner, [], unclaimed, scope.lease_seconds
                    )

    async def _returned(self, ended: _Ended) -> int:
        done = self.inner.get(ended.row_id)
        if done is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(done)
        await clock.sleep(backoff(self.opts.backoff, self.elements[ended.index].failures))
        return ended.index

    def _progress(self, clock: float, *, final: bool) -> list[dict[str, Any]]:
        if not final and clock - self.last_progress < _PROGRESS_SECONDS:
            return []
        if final and self.last_progress < 0:
            return []  # said already
        self.last_progress = -1.0 if final else clock
        failures, self.new_failures = self.new_failures, []
        return [
            {
                "total": self.total,
                "succeeded": len(self.results),
                "failed": len(self.errors),
                "running": len(self.running),
                "failures": failures,
            }
        ]

    async def _element(self, index: int, row_id: int, attempt: int, item: Any) -> _Ended:
        scope = self.scope
        ctx = context.NodeContext(scope.run_id, element_name(self.node.name, index), attempt)
        kwargs = {**self.kwargs, self.opts.over: item}
        done: asyncio.Future[Any]
        if inspect.iscoroutinefunction(self.fn):
            done = asyncio.ensure_future(_call_async(self.fn, kwargs, ctx, scope.encode))
        else:
            run = functools.partial(
                contextvars.copy_context().run, _call_sync, self.fn, kwargs, ctx, scope.encode
            )
            done = asyncio.wrap_future(scope.threads.submit(run))
        self.inner[row_id] = done
        timed_out = False
        try:
            if self.opts.timeout is None:
                result = await asyncio.shield(done)
            else:
                result = await asyncio.wait_for(asyncio.shield(done), self.opts.timeout)
        except TimeoutError:
            if inspect.iscoroutinefunction(self.fn):
                done.cancel()
            timed_out = True  # its code may run on: it stays in ``inner`` until it returns
            done.add_done_callback(lambda _: self._released(row_id))
            return _Ended(
                index,
                row_id,
                attempt,
                False,
                error_type="TimeoutError",
                error=f"element {index} of map node {self.node.name!r} exceeded its "
                f"{self.opts.timeout:g}s timeout",
                still_executing=True,
            )
        except asyncio.CancelledError:
            if inspect.iscoroutinefunction(self.fn):
                done.cancel()
            raise  # a thread runs to its end: ``_abandon`` releases its lease then
        finally:
            if not timed_out:
                self.inner.pop(row_id, None)
        ok, value, encoded, error_type, error, trace = result
        hide = scope.redact
        logs = "\n".join(hide(line) for line in ctx.logs) or None
        if ok:
            return _Ended(index, row_id, attempt, True, value, encoded, logs=logs)
        return _Ended(
            index,
            row_id,
            attempt,
            False,
            error_type=error_type,
            error=hide(error),
            traceback=hide(trace),
            logs=logs,
        )

    def _released(self, row_id: int) -> None:
        """An element's code returned after its attempt ended (timeout, cancel): its lease
        goes, so that no attempt waits on it."""
        self.inner.pop(row_id, None)
        self._release([row_id])

    def _release(self, row_ids: list[int]) -> None:
        for row_id in row_ids:
            self.scope.tracked.discard(row_id)
            self.mine.discard(row_id)
        task = asyncio.ensure_future(
            asyncio.to_thread(self.scope.store.release_attempts, self.scope.owner, row_ids)
        )
        _releasing.add(task)  # a task nobody references may be collected mid-way
        task.add_done_callback(_releasing.discard)

    def _abandon(self) -> None:
        """The attempt stops (cancelled, lease lost) with elements still executing: each
        releases its lease once its code returns; its row is closed by whoever ends the run
        or resumes the map."""
        for row_id, done in list(self.inner.items()):
            done.add_done_callback(functools.partial(self._gone, row_id))
        # ended, or timed out and returned, but not checkpointed: nothing executes them now
        idle = [r for r in self.mine if r not in self.inner]
        if idle:
            self._release(idle)
        for task in self.running:
            task.cancel()
        self.running.clear()
        self.remote.clear()
        if self.watcher is not None:
            self.watcher.cancel()

    def _gone(self, row_id: int, _: object) -> None:
        self._released(row_id)

    def _outcome(self) -> Any:
        if self.errors and self.opts.on_error == "fail":
            shown = sorted(self.errors)[:_SHOWN_FAILURES]
            more = len(self.errors) - len(shown)
            listed = "; ".join(f"[{i}] {self.errors[i]}" for i in shown)
            raise MapError(
                f"map node {self.node.name!r}: {len(self.errors)} of {self.total} element(s) "
                f"failed: {listed}" + (f"; and {more} more" if more else "")
            )
        if self.errors:
            context.current().save_document(
                "errors", {str(i): self.errors[i] for i in sorted(self.errors)}, "json"
            )
        return [self.results.get(i) for i in range(self.total)]


def _call_sync(fn: Any, kwargs: dict[str, Any], ctx: context.NodeContext, encode: Any) -> tuple:
    """Runs in a node thread: the element's call and the encoding of its value."""
    context.activate(ctx)
    try:
        value = fn(**kwargs)
        encoded = encode(value)
        return True, codecs.as_stored(value, encoded), encoded, None, None, None
    except BaseException as exc:
        return _failed(exc)


async def _call_async(
    fn: Any, kwargs: dict[str, Any], ctx: context.NodeContext, encode: Any
) -> tuple:
    context.activate(ctx)
    try:
        value = await fn(**kwargs)
        encoded = encode(value)
        return True, codecs.as_stored(value, encoded), encoded, None, None, None
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return _failed(exc)


def _failed(exc: BaseException) -> tuple:
    import traceback

    trace = "".join(traceback.format_exception(exc))
    return False, None, None, type(exc).__name__, str(exc), trace
