"""Embedded execution: passes run on a background event loop inside this process.

The cell or script that starts a run returns at once; the loop thread advances it. Asking
for a run that is being advanced is folded into the pass in progress (``Engine.advance``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Protocol

from runtime.engine import Engine
from runtime.store import Takeover


class Dispatcher(Protocol):
    def submit(self, run_id: str, *, takeover: Takeover | None = None) -> None:
        """Ask for a pass over the run, soon and somewhere."""

    def close(self) -> None: ...


class EmbeddedDispatcher:
    def __init__(self, engine: Engine, concurrency: int) -> None:
        self.engine = engine
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._slots: asyncio.Semaphore | None = None
        self._futures: set[concurrent.futures.Future] = set()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    self._slots = asyncio.Semaphore(self.concurrency)
                    ready.set()
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="plait-runs", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def submit(self, run_id: str, *, takeover: Takeover | None = None) -> None:
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(self._drive(run_id, takeover), loop)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._futures.discard(future)

    async def _drive(self, run_id: str, takeover: Takeover | None) -> None:
        assert self._slots is not None
        async with self._slots:
            await self.engine.advance(run_id, takeover=takeover)

    def close(self) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
