"""Embedded execution: passes run on a background event loop inside this process.

The cell or script that starts a run returns at once; the loop thread advances it. A pass
requested while one is already running for the same run is folded into a second pass.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Protocol

from runtime.engine import Engine


class Dispatcher(Protocol):
    def submit(self, run_id: str, *, steal_from: str | None = None) -> None:
        """Ask for a pass over the run, soon and somewhere."""

    def close(self) -> None: ...


class EmbeddedDispatcher:
    def __init__(self, engine: Engine, concurrency: int) -> None:
        self.engine = engine
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._active: dict[str, bool] = {}
        """run id -> another pass requested while this one runs"""
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

    def submit(self, run_id: str, *, steal_from: str | None = None) -> None:
        loop = self._ensure_loop()
        with self._lock:
            if run_id in self._active:
                self._active[run_id] = True
                return
            self._active[run_id] = False
        future = asyncio.run_coroutine_threadsafe(self._drive(run_id, steal_from), loop)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)

    async def _drive(self, run_id: str, steal_from: str | None) -> None:
        assert self._slots is not None
        async with self._slots:
            while True:
                try:
                    await self.engine.advance(run_id, steal_from=steal_from)
                finally:
                    with self._lock:
                        again = self._active.get(run_id, False)
                        if again:
                            self._active[run_id] = False
                        else:
                            self._active.pop(run_id, None)
                if not again:
                    return
                steal_from = None

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until no pass is running; returns whether that happened within ``timeout``."""
        _done, pending = concurrent.futures.wait(list(self._futures), timeout=timeout)
        return not pending

    def close(self) -> None:
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
