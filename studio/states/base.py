"""What every page state shares: the store connection and the run-level doorbell."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import runtime as rt
from runtime.events import ALL_RUNS
from runtime.store.tables import EventDict

T = TypeVar("T")

RESYNC_SECONDS = 5.0
"""Lists re-read the store this often without an announcement: runs executed by a process
whose bus this one cannot hear (another embedded process on the same SQLite file)."""


def client() -> rt.Client:
    """The studio process's client (made on first use, after the server forked its worker:
    no connection or thread crosses a fork)."""
    return rt.default_client()


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@contextlib.asynccontextmanager
async def doorbell() -> AsyncIterator[Callable[[float], Any]]:
    """Rings when the bus announces a run-level event of any run. Yields ``wait(timeout)``,
    which returns once it rang (or the timeout passed) and re-arms it; rings during a
    reload are kept, so none is lost."""
    loop = asyncio.get_running_loop()
    rang = asyncio.Event()

    def on_events(batch: list[EventDict]) -> None:
        del batch
        with contextlib.suppress(RuntimeError):  # the loop closed as the server stopped
            loop.call_soon_threadsafe(rang.set)

    unsubscribe = client().bus.subscribe(ALL_RUNS, on_events)

    async def wait(timeout: float) -> bool:
        try:
            await asyncio.wait_for(rang.wait(), timeout)
        except TimeoutError:
            return False
        rang.clear()
        return True

    try:
        yield wait
    finally:
        unsubscribe()
