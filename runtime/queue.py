"""Taskiq on Redis: the broker, the ``advance`` task that runs one engine pass in a worker,
the dispatcher callers use to enqueue, and the reaper that re-enqueues forgotten runs.

Redis is the fast path, PostgreSQL the truth: a message may be lost (Redis restarted) or
delivered twice (redelivery); the run's lease makes a duplicate pass a no-op, and the reaper
re-enqueues any run that nobody advances.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import random
import signal
import threading
from typing import Any

import taskiq.receiver
from taskiq import Context, TaskiqDepends, TaskiqEvents, TaskiqState
from taskiq.exceptions import SendTaskError

from runtime.config import Settings, settings
from runtime.reconnect import KEEPALIVE_OPTIONS, REDIS_DOWN, Outage
from runtime.store import Takeover
from runtime.stream_broker import StreamBroker
from runtime.takeover import LeaseWatch, StalledBackoff, dead_local_holders

log = logging.getLogger("plait.queue")

TASK_NAME = "plait.advance"
ATTEMPT_TASK_NAME = "plait.attempt"


def make_broker(config: Settings) -> StreamBroker:
    """The stream broker with acknowledged delivery, configured per the notes on this
    machine: no prefetch hoarding, no trimming of pending entries, no socket timeout (the
    stream worker otherwise hangs on shutdown under CPython 3.11); connecting is bounded, so
    a caller's enqueue fails fast when Redis is away instead of hanging."""
    if not config.redis_url:
        raise RuntimeError("PLAIT_REDIS_URL is not set: workers need Redis")
    return StreamBroker(
        config.redis_url,
        queue_name=config.queue,
        consumer_group_name=config.queue,
        # a new group reads the stream from its start: messages enqueued before any
        # worker existed, or after Redis lost the group, are work too
        consumer_id="0",
        xread_count=1,
        unacknowledged_batch_size=1,
        idle_timeout=30 * 60_000,  # a backstop only: leases + the reaper recover fast
        unacknowledged_lock_timeout=10,  # a reader killed mid-claim does not block reclaiming
        maxlen=None,
        socket_timeout=None,
        socket_connect_timeout=5,
        socket_keepalive=True,
        socket_keepalive_options=KEEPALIVE_OPTIONS,
    )


broker = make_broker(settings()) if settings().redis_url else None


async def _advance(
    run_id: str,
    takeover: dict[str, Any] | None = None,
    context: Context = TaskiqDepends(),  # noqa: B008  (taskiq's injection idiom)
) -> None:
    """One engine pass over the run, in a worker process (``takeover``: a ``Takeover`` as
    JSON, the leave to take a lease its holder stopped renewing)."""
    leave = Takeover.from_json(takeover) if takeover else None
    await context.state.plait_client.engine.advance(run_id, takeover=leave)


async def _attempt(
    handout: dict[str, Any],
    context: Context = TaskiqDepends(),  # noqa: B008  (taskiq's injection idiom)
) -> None:
    """One handed-out node attempt of a run another worker advances (``runtime.spread``)."""
    from runtime import spread

    await spread.execute(context.state.plait_client.engine, spread.HandOut.from_json(handout))


def _register(b: StreamBroker) -> Any:
    task = b.register_task(_advance, task_name=TASK_NAME)
    attempt = b.register_task(_attempt, task_name=ATTEMPT_TASK_NAME)

    @b.on_event(TaskiqEvents.WORKER_STARTUP)
    async def _startup(state: TaskiqState) -> None:
        from runtime.client import Client

        client = Client(settings())
        state.plait_client = client
        if client.settings.spread == "auto":
            client.engine.hand_out = lambda handout: attempt.kiq(handout.to_json())
        state.reaper = asyncio.create_task(reap_forever(client, task))
        log.info("plait worker ready (owner %s)", client.owner)

    @b.on_event(TaskiqEvents.WORKER_SHUTDOWN)
    async def _shutdown(state: TaskiqState) -> None:
        # a startup that failed half-way (the database unreachable) left some of these unset
        reaper = getattr(state, "reaper", None)
        if reaper is not None:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
        client = getattr(state, "plait_client", None)
        if client is not None:
            client.close()

    return task


advance = _register(broker) if broker is not None else None


class Receiver(taskiq.receiver.Receiver):
    """taskiq's receiver, stopped at once by a signal. taskiq's worker sets its stop event
    from a plain ``signal.signal`` handler, which runs only when the event loop next wakes
    up (the next XREADGROUP reply: up to ``xread_block`` later, and on CPython 3.11 its
    cancellation can be lost, per the notes); run by the loop's own signal handling, the same
    handler wakes the loop at once. ``plait worker`` passes this class as ``--receiver``."""

    async def listen(self, finish_event: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        hangup = [signal.SIGHUP] if hasattr(signal, "SIGHUP") else []
        for sig in [signal.SIGINT, signal.SIGTERM, *hangup]:  # the ones taskiq handles
            handler = signal.getsignal(sig)
            if callable(handler):
                with contextlib.suppress(NotImplementedError):  # loops without signal support
                    loop.add_signal_handler(sig, handler, sig, None)
        await super().listen(finish_event)


class TaskiqDispatcher:
    """Enqueues passes from any process; the caller executes nothing itself."""

    def __init__(self, config: Settings) -> None:
        self._broker = make_broker(config)
        self._task = self._broker.register_task(_advance, task_name=TASK_NAME)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="plait-kiq", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._broker.startup(), self._loop).result(10)

    def submit(self, run_id: str, *, takeover: Takeover | None = None) -> None:
        leave = takeover.to_json() if takeover else None
        future = asyncio.run_coroutine_threadsafe(self._task.kiq(run_id, leave), self._loop)
        try:
            future.result(5)
        except (concurrent.futures.TimeoutError, Exception) as exc:
            # the run is stored as queued; a worker's reaper enqueues it again
            reason = exc.__cause__ or exc  # taskiq's SendTaskError only says that it failed
            log.warning(
                "could not enqueue run %s now (%s); the reaper will",
                run_id,
                str(reason) or type(reason).__name__,
            )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


async def reap_forever(client: Any, task: Any) -> None:
    """Every few seconds, enqueue runs nobody advances. Free ones (queued with their message
    lost, running but released) are enqueued by the one reaper that holds the database's
    reaper lock, so a backlog is not multiplied by the number of workers. Held ones whose
    holder is gone (``runtime.takeover``) are watched by every reaper: a leader frozen with
    its lock (a stopped VM, a long pause) must not keep its own runs from moving on."""
    interval = max(client.settings.lease_seconds / 3, 0.5)
    lock = client.store.leader("reaper")
    leases = LeaseWatch(client.settings.lease_seconds)
    stalled = StalledBackoff()
    outage = Outage("reaper", log)
    while True:
        try:
            found = await _in_thread(_takeovers, client, leases)
            if await _in_thread(lock.hold):
                found += await _in_thread(_free, client, stalled)
            for run_id, takeover in found:
                await task.kiq(run_id, takeover.to_json() if takeover else None)
                outage.recovered()
        except SendTaskError as exc:
            # the runs stay orphans in the database and the next round sends them; the
            # leadership stays ours (it lives in PostgreSQL, which answered)
            if isinstance(exc.__cause__, REDIS_DOWN):
                outage.failed(exc.__cause__)
            else:
                log.warning("reaper could not enqueue: %s", exc.__cause__ or exc)
        except asyncio.CancelledError:
            lock.release()
            raise
        except Exception as exc:
            log.warning("reaper round failed: %s", exc)
            leases.forget()
            lock.release()
        try:
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))
        except asyncio.CancelledError:
            lock.release()
            raise


async def _in_thread(fn: Any, *args: Any) -> Any:
    """``asyncio.to_thread``, except that a cancelled caller still waits for the thread to
    return (a thread cannot be stopped), so the caller's cleanup (closing the reaper's
    connection) never races the thread's work on it."""
    work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


def _free(client: Any, stalled: StalledBackoff) -> list[tuple[str, Takeover | None]]:
    from runtime.store.tables import utcnow

    # delayed runs now due: ``plait scheduler`` queues them sooner, this when none runs
    due = client.store.release_due(utcnow())
    for run_id, events in due:
        client.bus.publish(run_id, events)
    old = utcnow() - dt.timedelta(seconds=client.settings.lease_seconds)
    released = {run_id for run_id, _ in due}
    found = [
        run
        for run in stalled.due(client.store.free_runs())
        if run.id not in released and (run.status == "running" or run.created_at < old)
    ]
    # a limited workflow's queued runs past its free slots would only be refused
    admissible: dict[int, set[str] | None] = {}
    for run in found:
        if run.status == "queued" and run.workflow_id not in admissible:
            ids = client.store.admissible_runs(run.workflow_id)
            admissible[run.workflow_id] = None if ids is None else set(ids)
    due_now: list[tuple[str, Takeover | None]] = [(run_id, None) for run_id in released]
    return due_now + [
        (run.id, None)
        for run in found
        if run.status != "queued"
        or (allowed := admissible.get(run.workflow_id)) is None
        or run.id in allowed
    ]


def _takeovers(client: Any, leases: LeaseWatch) -> list[tuple[str, Takeover | None]]:
    held = client.store.held_leases()
    dead = dead_local_holders(held)
    taken = {run_id for run_id, _ in dead}
    return [*dead, *leases.unrenewed([r for r in held if r.id not in taken])]
