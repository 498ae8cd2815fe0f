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
import threading
from typing import Any

import sqlalchemy as sa
from taskiq import Context, TaskiqDepends, TaskiqEvents, TaskiqState
from taskiq_redis import RedisStreamBroker

from runtime.config import Settings, settings
from runtime.store import Takeover
from runtime.takeover import LeaseWatch, StalledBackoff, dead_local_holders

log = logging.getLogger("plait.queue")

_REAPER_LOCK = 0x706C6172  # "plar": one reaper per database
TASK_NAME = "plait.advance"


def make_broker(config: Settings) -> RedisStreamBroker:
    """The stream broker with acknowledged delivery, configured per the notes on this
    machine: no prefetch hoarding, no trimming of pending entries, no socket timeout (the
    stream worker otherwise hangs on shutdown under CPython 3.11)."""
    if not config.redis_url:
        raise RuntimeError("PLAIT_REDIS_URL is not set: workers need Redis")
    return RedisStreamBroker(
        config.redis_url,
        queue_name=config.queue,
        consumer_group_name=config.queue,
        xread_count=1,
        unacknowledged_batch_size=1,
        idle_timeout=30 * 60_000,  # a backstop only: leases + the reaper recover fast
        maxlen=None,
        socket_timeout=None,
        socket_keepalive=True,
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


def _register(b: RedisStreamBroker) -> Any:
    task = b.register_task(_advance, task_name=TASK_NAME)

    @b.on_event(TaskiqEvents.WORKER_STARTUP)
    async def _startup(state: TaskiqState) -> None:
        from runtime.client import Client

        client = Client(settings())
        state.plait_client = client
        state.reaper = asyncio.create_task(reap_forever(client, task))
        log.info("plait worker ready (owner %s)", client.owner)

    @b.on_event(TaskiqEvents.WORKER_SHUTDOWN)
    async def _shutdown(state: TaskiqState) -> None:
        state.reaper.cancel()
        state.plait_client.close()

    return task


advance = _register(broker) if broker is not None else None


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
            log.warning("could not enqueue run %s now (%s); the reaper will", run_id, exc)

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
    lock = _ReaperLock(client.store.engine)
    leases = LeaseWatch(client.settings.lease_seconds)
    stalled = StalledBackoff()
    while True:
        try:
            found = await asyncio.to_thread(_takeovers, client, leases)
            if await asyncio.to_thread(lock.acquire):
                found += await asyncio.to_thread(_free, client, stalled)
            for run_id, takeover in found:
                await task.kiq(run_id, takeover.to_json() if takeover else None)
        except asyncio.CancelledError:
            lock.release()
            raise
        except Exception as exc:
            log.warning("reaper round failed: %s", exc)
            leases.forget()
            lock.release()
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))


def _free(client: Any, stalled: StalledBackoff) -> list[tuple[str, Takeover | None]]:
    from runtime.store.tables import utcnow

    old = utcnow() - dt.timedelta(seconds=client.settings.lease_seconds)
    return [
        (run.id, None)
        for run in stalled.due(client.store.free_runs())
        if run.status == "running" or run.created_at < old
    ]


def _takeovers(client: Any, leases: LeaseWatch) -> list[tuple[str, Takeover | None]]:
    held = client.store.held_leases()
    dead = dead_local_holders(held)
    taken = {run_id for run_id, _ in dead}
    return [*dead, *leases.unrenewed([r for r in held if r.id not in taken])]


class _ReaperLock:
    """Leadership via a session-level advisory lock on PostgreSQL (held while the session
    lives); on SQLite every reaper may act, the run lease keeps passes exclusive."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.conn: sa.Connection | None = None

    def acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self.conn is None:
            self.conn = self.engine.connect()
            held = self.conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _REAPER_LOCK}
            ).scalar()
            self.conn.commit()
            if not held:
                self.conn.close()
                self.conn = None
                return False
            return True
        self.conn.execute(sa.text("SELECT 1"))  # the session (and the lock) still lives
        self.conn.commit()
        return True

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
