"""The run page's "Log and events" tab: every node's log lines and the run's events in
time order, live, filterable by node and level. A state and listener of its own, beside
the node panel's (``RunState``), so either can change without the other."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import reflex as rx

from runtime.client import Run
from runtime.errors import NotFound
from runtime.statuses import NODE_ATTEMPT_ENDS, NODE_EVENT_STATUS
from studio.logic import run_log
from studio.states.base import blocking, client, permitted

PUSH_SECONDS = 0.25
"""Shortest time between two updates while events come fast."""


class RunLogState(rx.State):
    node_filter: str = run_log.ALL
    level_filter: str = run_log.ALL
    nodes: list[str] = []
    lines: list[run_log.LogLine] = []
    """What the filters let through."""

    _all: list[run_log.LogLine] = []

    @rx.var
    def node_options(self) -> list[str]:
        return [run_log.ALL, run_log.RUN, *self.nodes]

    def set_node_filter(self, value: str) -> None:
        self.node_filter = value
        self._show()

    def set_level_filter(self, value: str) -> None:
        self.level_filter = value
        self._show()

    def _show(self) -> None:
        self.lines = run_log.filtered(self._all, self.node_filter, self.level_filter)

    @rx.event(background=True)
    async def listen(self) -> None:
        async with self:
            run_id = self.run_id  # type: ignore[attr-defined]
            self.node_filter = self.level_filter = run_log.ALL
            self.lines, self._all, self.nodes = [], [], []
            allowed, _ = await permitted(self, "read", "read runs")
        if allowed is None:
            return
        try:
            record = await blocking(client().store.get_run, run_id)
        except NotFound:
            return  # the run page says so (or goes to the run a short id stands for)
        spec = (await blocking(client().store.get_version, record.version_id)).spec
        async with self:
            self.nodes = [n["name"] for n in spec["nodes"]]
        queue: asyncio.Queue[Any] = asyncio.Queue()
        pump = asyncio.create_task(_pump(run_id, queue))
        events: list[Any] = []
        attempts: list[Any] = []
        try:
            while True:
                batch = [await queue.get()]
                await asyncio.sleep(PUSH_SECONDS)  # a burst becomes one update
                while not queue.empty():
                    batch.append(queue.get_nowait())
                new = [e for e in batch if isinstance(e, dict)]
                events += new
                # logs are written when an attempt ends: read them again then
                if not attempts or any(_ends_attempt(e) for e in new):
                    attempts = await blocking(client().store.attempts, run_id)
                lines = run_log.merged(events, attempts)
                async with self:
                    self._all = lines
                    self._show()
                if any(not isinstance(e, dict) for e in batch):
                    return
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump


def _ends_attempt(event: dict[str, Any]) -> bool:
    return NODE_EVENT_STATUS.get(event["type"]) in NODE_ATTEMPT_ENDS


async def _pump(run_id: str, queue: asyncio.Queue[Any]) -> None:
    try:
        async for event in Run(client(), run_id).aevents(stop_at_end=True):
            queue.put_nowait(event)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        queue.put_nowait(exc)
        return
    queue.put_nowait(None)  # the end
