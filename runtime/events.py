"""Events: the ``event`` table is the truth, the bus is the doorbell.

Writers append events in the transaction that makes the change, then announce them on the bus
(in-process here; between the processes on one SQLite file, ``runtime.socket_bus``; Redis
pub/sub when configured). Readers load history from the table, then
follow the bus, keeping events in ``seq`` order with no gap and no duplicate: an announcement
that does not continue the sequence makes the reader re-read the table.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Protocol

from runtime.statuses import ends_at
from runtime.store import Store
from runtime.store.tables import EventDict

ALL_RUNS = "*"
"""Channel of run-level events (``run.*``) of every run."""

_RESYNC_SECONDS = 1.0
"""A follower re-reads the table this often even without a doorbell (lost announcements, and
writers whose bus this process cannot hear)."""


Listener = Callable[[list[EventDict]], None]


class Bus(Protocol):
    def publish(self, run_id: str, events: Sequence[EventDict]) -> None:
        """Announce events already committed to the table."""

    def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` (from any thread) for events of ``channel`` (a run id or
        ``ALL_RUNS``); returns the function that unsubscribes."""

    def close(self) -> None: ...


class LocalBus:
    """In-process bus for embedded mode: listeners are called in the publisher's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {}

    def publish(self, run_id: str, events: Sequence[EventDict]) -> None:
        if not events:
            return
        with self._lock:
            for_run = list(self._listeners.get(run_id, ()))
            for_all = list(self._listeners.get(ALL_RUNS, ()))
        batch = list(events)
        for listener in for_run:
            listener(batch)
        run_level = [e for e in batch if e["type"].startswith("run.")]
        if run_level:
            for listener in for_all:
                listener(run_level)

    def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.setdefault(channel, []).append(listener)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(channel, [])
                if listener in listeners:
                    listeners.remove(listener)

        return unsubscribe

    def close(self) -> None:
        with self._lock:
            self._listeners.clear()


class _Sequencer:
    """Turns history + announcements into one ordered stream without gaps or duplicates."""

    def __init__(self, store: Store, run_id: str, after: int) -> None:
        self.store = store
        self.run_id = run_id
        self.last = after

    def from_table(self) -> list[EventDict]:
        fresh = self.store.events(self.run_id, after=self.last)
        if fresh:
            self.last = fresh[-1]["seq"]
        return fresh

    def from_announcement(self, batch: list[EventDict]) -> list[EventDict] | None:
        """The announced events that continue the sequence; ``None`` when there is a gap
        (an announcement was missed) and the table must be read instead."""
        fresh = sorted(
            {e["seq"]: e for e in batch if e["seq"] > self.last}.values(), key=lambda e: e["seq"]
        )
        if not fresh:
            return []
        if fresh[-1]["seq"] - self.last != len(fresh):
            return None
        self.last = fresh[-1]["seq"]
        return fresh


TOKENS = "node.tokens"
"""A transient event of streamed LLM text (``data``: ``text``, ``attempt``): published on the
bus only, never written, with ``seq`` 0 so that followers of the stored sequence drop it;
``follow(tokens=True)`` passes it on."""


def token_event(run_id: str, node: str, attempt: int, text: str) -> EventDict:
    return {
        "run_id": run_id,
        "seq": 0,
        "type": TOKENS,
        "node": node,
        "data": {"text": text, "attempt": attempt},
        "at": time.time(),
    }


def follow(
    store: Store,
    bus: Bus,
    run_id: str,
    *,
    after: int = 0,
    stop_at_end: bool = True,
    timeout: float | None = None,
    tokens: bool = False,
) -> Iterator[EventDict]:
    """Events of one run: history first, then live. Ends after the run's final event when
    ``stop_at_end``, or when ``timeout`` seconds pass without one. With ``tokens``, streamed
    LLM text (``TOKENS`` events) is passed on live as it is announced (none is stored)."""
    inbox: queue.SimpleQueue[list[EventDict]] = queue.SimpleQueue()
    unsubscribe = bus.subscribe(run_id, inbox.put)
    sequencer = _Sequencer(store, run_id, after)
    try:
        pending = sequencer.from_table()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for i, event in enumerate(pending):
                yield event
                if stop_at_end and ends_at(pending, i):
                    return
            wait = _RESYNC_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return
            try:
                batch = inbox.get(timeout=wait)
            except queue.Empty:
                pending = sequencer.from_table()
                continue
            if tokens:
                yield from (e for e in batch if e["type"] == TOKENS)
            announced = sequencer.from_announcement(batch)
            pending = sequencer.from_table() if announced is None else announced
    finally:
        unsubscribe()


async def afollow(
    store: Store,
    bus: Bus,
    run_id: str,
    *,
    after: int = 0,
    stop_at_end: bool = True,
    timeout: float | None = None,
    tokens: bool = False,
) -> AsyncIterator[EventDict]:
    """Async form of ``follow``; table reads run in a thread so the loop never blocks."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[list[EventDict]] = asyncio.Queue()

    def deliver(batch: list[EventDict]) -> None:
        loop.call_soon_threadsafe(inbox.put_nowait, batch)

    unsubscribe = bus.subscribe(run_id, deliver)
    sequencer = _Sequencer(store, run_id, after)
    deadline = None if timeout is None else loop.time() + timeout
    try:
        pending = await asyncio.to_thread(sequencer.from_table)
        while True:
            for i, event in enumerate(pending):
                yield event
                if stop_at_end and ends_at(pending, i):
                    return
            wait = _RESYNC_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    return
            try:
                batch = await asyncio.wait_for(inbox.get(), wait)
            except TimeoutError:
                pending = await asyncio.to_thread(sequencer.from_table)
                continue
            while not inbox.empty():  # drain a burst and apply it together
                batch.extend(inbox.get_nowait())
            if tokens:
                for event in batch:
                    if event["type"] == TOKENS:
                        yield event
            announced = sequencer.from_announcement(batch)
            if announced is None:
                announced = await asyncio.to_thread(sequencer.from_table)
            pending = announced
    finally:
        unsubscribe()
