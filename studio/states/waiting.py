"""The "Waiting for input" list on the runs page: every run's open question, kept
current while the page is open."""

from __future__ import annotations

import reflex as rx

from studio.logic import waiting
from studio.states.base import RESYNC_SECONDS, blocking, client, doorbell, permitted


class WaitingState(rx.State):
    items: list[waiting.WaitingItem] = []

    @rx.event(background=True)
    async def listen(self) -> None:
        async with self:
            allowed, _ = await permitted(self, "read", "read runs")
        if allowed is None:
            return
        async with doorbell() as rang:
            while True:
                items = await blocking(waiting.load, client().store)
                async with self:
                    if items != self.items:
                        self.items = items
                await rang(RESYNC_SECONDS)
