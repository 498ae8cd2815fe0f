"""The event bus on Redis pub/sub: ``plait:run:<id>`` per run, ``plait:runs`` for run-level
events of every run. Pub/sub keeps nothing, so followers still read history from the table
(``runtime.events.follow``); the bus only spares them the wait."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Sequence

import redis

from runtime.events import ALL_RUNS, Listener
from runtime.store.tables import EventDict

log = logging.getLogger("plait.bus")

RUNS_CHANNEL = "plait:runs"


def run_channel(run_id: str) -> str:
    return f"plait:run:{run_id}"


class RedisBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._redis = redis.Redis.from_url(url, socket_keepalive=True)
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {}
        self._pubsub: redis.client.PubSub | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._home = f"plait:bus:{secrets.token_hex(8)}"

    def publish(self, run_id: str, events: Sequence[EventDict]) -> None:
        if not events:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.publish(run_channel(run_id), json.dumps(list(events)))
            run_level = [e for e in events if e["type"].startswith("run.")]
            if run_level:
                pipe.publish(RUNS_CHANNEL, json.dumps(run_level))
            pipe.execute()
        except redis.RedisError as exc:
            # the events are committed; followers resync from the table
            log.warning("could not announce events of run %s: %s", run_id, exc)

    def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        name = RUNS_CHANNEL if channel == ALL_RUNS else run_channel(channel)
        with self._lock:
            first = name not in self._listeners
            self._listeners.setdefault(name, []).append(listener)
            if first:
                self._ensure_thread().subscribe(name)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(name, [])
                if listener in listeners:
                    listeners.remove(listener)
                if not listeners and name in self._listeners:
                    del self._listeners[name]
                    if self._pubsub is not None:
                        with contextlib.suppress(redis.RedisError):
                            self._pubsub.unsubscribe(name)

        return unsubscribe

    def _ensure_thread(self) -> redis.client.PubSub:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            # a channel of our own keeps the connection subscribed, so the listener blocks on
            # the socket (and wakes at once) even between other subscriptions
            self._pubsub.subscribe(self._home)
            self._thread = threading.Thread(target=self._listen, name="plait-bus", daemon=True)
            self._thread.start()
        return self._pubsub

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub = self._pubsub
            if pubsub is None:
                return
            try:
                message = pubsub.get_message(timeout=1.0)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("event bus connection lost (%s); reconnecting", exc)
                self._stop.wait(0.5)
                self._resubscribe()
                continue
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

    def _resubscribe(self) -> None:
        with self._lock:
            names = list(self._listeners)
            try:
                if self._pubsub is not None:
                    self._pubsub.close()
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(self._home, *names)
            except redis.RedisError:
                pass  # the next round tries again

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self._pubsub is not None:
            self._pubsub.close()
        self._redis.close()
