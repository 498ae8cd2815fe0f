"""The event bus on Redis pub/sub: ``plait:run:<id>`` per run, ``plait:runs`` for run-level
events of every run. Pub/sub keeps nothing, so followers still read history from the table
(``runtime.events.follow``); the bus only spares them the wait."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import secrets
import threading
import weakref
from collections.abc import Callable, Sequence

import redis

from runtime.events import ALL_RUNS, Listener
from runtime.reconnect import KEEPALIVE_OPTIONS, REDIS_DOWN, Outage
from runtime.store.tables import EventDict

log = logging.getLogger("plait.bus")

RUNS_CHANNEL = "plait:runs"

OUTBOX_LIMIT = 10_000
"""Announcements waiting for Redis; past this many, new ones are dropped (the table has
them)."""


def run_channel(run_id: str) -> str:
    return f"plait:run:{run_id}"


class RedisBus:
    """One thread publishes, one listens. Redis being away (or too slow to answer) costs
    announcements, which followers make up for from the table, never an error or a wait:
    ``publish`` only hands the events to the publishing thread, ``subscribe`` logs and
    returns, and the listener thread reconnects with backoff and restores every
    subscription."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=5,
            socket_timeout=5,  # a Redis that stopped answering costs 5 s, not for ever
            socket_keepalive=True,
            socket_keepalive_options=KEEPALIVE_OPTIONS,
        )
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {}
        self._pubsub: redis.client.PubSub | None = None
        """The subscribed connection; ``None`` while Redis is away (the thread reconnects)."""
        self._stale = False
        """A subscription failed on ``_pubsub``: the thread subscribes everything afresh."""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._home = f"plait:bus:{secrets.token_hex(8)}"
        self._outbox: queue.Queue[tuple[str, str] | None] = queue.Queue(OUTBOX_LIMIT)
        """(channel, JSON batch) to publish, in order; ``None`` ends the publisher."""
        self._publisher: threading.Thread | None = None
        self._finish_publishing: weakref.finalize | None = None
        """Sends what is queued and ends the publisher: by ``close``, or at exit, so that a
        script that ends right after ``run.cancel()`` still announces it."""

    def publish(self, run_id: str, events: Sequence[EventDict]) -> None:
        # called on a pass's event loop: it must never wait on Redis
        if not events:
            return
        messages = [(run_channel(run_id), json.dumps(list(events)))]
        run_level = [e for e in events if e["type"].startswith("run.")]
        if run_level:
            messages.append((RUNS_CHANNEL, json.dumps(run_level)))
        with self._lock:
            if self._publisher is None:
                self._publisher = threading.Thread(
                    target=self._publish_forever, name="plait-bus-publish", daemon=True
                )
                self._publisher.start()
                self._finish_publishing = weakref.finalize(
                    self, _finish_publishing, self._outbox, self._publisher
                )
        try:
            for message in messages:
                self._outbox.put_nowait(message)
        except queue.Full:
            pass  # Redis has been away for a while; the events are in the table

    def _publish_forever(self) -> None:
        outage = Outage("event bus (publish)", log)
        while True:
            first = self._outbox.get()
            if first is None:
                return
            batch, done = [first], False
            while len(batch) < 1000:  # whatever else is waiting goes in the same round trip
                try:
                    message = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if message is None:
                    done = True
                    break
                batch.append(message)
            try:
                pipe = self._redis.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                pipe.execute()
                outage.recovered()
            except REDIS_DOWN as exc:
                # the events are committed; followers resync from the table. What queued up
                # meanwhile would only be late doorbells: drop it too
                outage.failed(exc)
                done = self._drop_queued() or done
            except Exception as exc:  # this thread must outlive any error
                log.warning("could not announce %d event batches: %s", len(batch), exc)
            if done:
                return

    def _drop_queued(self) -> bool:
        """Empty the outbox; returns whether it held the end marker."""
        while True:
            try:
                message = self._outbox.get_nowait()
            except queue.Empty:
                return False
            if message is None:
                return True

    def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        name = RUNS_CHANNEL if channel == ALL_RUNS else run_channel(channel)
        with self._lock:
            first = name not in self._listeners
            self._listeners.setdefault(name, []).append(listener)
            self._ensure_thread()
            if first and self._pubsub is not None:
                try:
                    self._pubsub.subscribe(name)
                except Exception as exc:  # whatever it is, the listener thread starts afresh
                    log.debug("subscribing to %s failed (%s); the listener retries", name, exc)
                    self._stale = True

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(name, [])
                if listener in listeners:
                    listeners.remove(listener)
                if not listeners and name in self._listeners:
                    del self._listeners[name]
                    if self._pubsub is not None:
                        # a failure leaves a subscription nobody listens to: harmless
                        with contextlib.suppress(Exception):
                            self._pubsub.unsubscribe(name)

        return unsubscribe

    def _ensure_thread(self) -> None:
        """Start the listener; connect at once when Redis is there, so the first
        subscription is live before ``subscribe`` returns (called with the lock held)."""
        if self._thread is not None:
            return
        with contextlib.suppress(*REDIS_DOWN):  # the thread says so, and reconnects
            self._connect()
        self._thread = threading.Thread(target=self._listen, name="plait-bus", daemon=True)
        self._thread.start()

    def _connect(self) -> redis.client.PubSub:
        """A fresh subscribed connection for every channel listened to (lock held)."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            # a channel of our own keeps the connection subscribed, so the listener blocks
            # on the socket (and wakes at once) even between other subscriptions
            pubsub.subscribe(self._home, *self._listeners)
        except BaseException:
            pubsub.close()
            raise
        self._pubsub, self._stale = pubsub, False
        return pubsub

    def _disconnect(self) -> None:
        with self._lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()

    def _listen(self) -> None:
        outage = Outage("event bus", log)
        while not self._stop.is_set():
            try:
                with self._lock:
                    pubsub = self._pubsub
                    if pubsub is None or self._stale:
                        if pubsub is not None:
                            pubsub.close()
                        pubsub = self._connect()
                message = pubsub.get_message(timeout=1.0)
            except Exception as exc:
                # any error at all: redis-py's PubSub is not thread-safe, and a subscribe from
                # another thread that meets a dead connection reconnects it under our feet;
                # a fresh connection heals that, a dead listener would silence the process
                self._disconnect()
                self._stop.wait(outage.failed(exc))
                continue
            outage.recovered()
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            try:
                batch = json.loads(message["data"])
            except ValueError:
                continue
            with self._lock:
                listeners = list(self._listeners.get(channel, ()))
            for listener in listeners:
                try:
                    listener(batch)
                except Exception:
                    log.exception("event listener failed")

    def close(self) -> None:
        if self._finish_publishing is not None:
            self._finish_publishing()
        self._stop.set()
        if self._thread is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                self._redis.publish(self._home, b"")  # wakes the listener now, not in 1 s
            self._thread.join(timeout=3)
        self._disconnect()
        self._redis.close()


def _finish_publishing(
    outbox: queue.Queue[tuple[str, str] | None], publisher: threading.Thread
) -> None:
    """Let the publisher send what is queued, for a few seconds at most, then end."""
    with contextlib.suppress(queue.Full):
        outbox.put(None, timeout=1)
    publisher.join(timeout=3)
