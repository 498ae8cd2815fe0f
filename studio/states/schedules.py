"""Schedules in the studio: the schedules page (all of them) and the section of a workflow
page (its own), with next fire times in the viewer's time zone, pause and resume, and (on a
workflow page) a form to add one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from runtime import schedules
from runtime.errors import PlaitError
from studio.logic import schedules as logic
from studio.states.base import RESYNC_SECONDS, blocking, client, doorbell, permitted, record

BROWSER_ZONE = "Intl.DateTimeFormat().resolvedOptions().timeZone"


class SchedulesState(rx.State):
    viewer_tz: str = "UTC"
    only: str = ""
    """A workflow page's workflow; empty on the schedules page."""
    items: list[logic.ScheduleItem] = []
    message: str = ""
    form_message: str = ""

    async def _load(self) -> None:
        allowed, why = await permitted(self, "read", "read schedules")
        if allowed is None:
            self.message = why
            return
        self.items = await blocking(
            logic.items, client().store, self.viewer_tz, self.only or None, allowed.reaches
        )

    async def _open(self, only: str) -> AsyncIterator[Any]:
        self.only, self.message, self.form_message = only, "", ""
        await self._load()
        yield rx.call_script(BROWSER_ZONE, callback=SchedulesState.set_viewer_zone)

    async def load_all(self) -> AsyncIterator[Any]:
        async for step in self._open(""):
            yield step

    async def load_workflow(self) -> AsyncIterator[Any]:
        async for step in self._open(str(self.wf_name)):  # type: ignore[attr-defined]
            yield step

    async def set_viewer_zone(self, name: Any) -> None:
        self.viewer_tz = logic.viewer_zone(str(name))
        await self._load()

    @rx.event(background=True)
    async def watch(self) -> None:
        """Fires start runs and move the next fire times on: follow them."""
        async with doorbell() as rang:
            while True:
                await rang(RESYNC_SECONDS)
                async with self:
                    await self._load()

    async def set_paused(self, schedule_id: int, paused: bool) -> None:
        action = "pause" if paused else "resume"
        target = f"schedule:{schedule_id}"
        allowed, why = await permitted(self, "write", f"{action} schedules", target=target)
        if allowed is None:
            self.message = why
            return
        try:
            _, workflow = await blocking(client().store.get_schedule, schedule_id)
            if not allowed.reaches(workflow):
                self.message = f"not allowed: {allowed.actor} may not reach {workflow}"
                return
            await blocking(client().store.set_schedule_paused, schedule_id, paused)
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, allowed, f"schedule.{action}", target)
        self.message = ""
        await self._load()

    async def pause(self, schedule_id: int) -> None:
        await self.set_paused(schedule_id, True)

    async def resume(self, schedule_id: int) -> None:
        await self.set_paused(schedule_id, False)

    async def create(self, form: dict[str, Any]) -> None:
        name = self.only
        allowed, why = await permitted(self, "write", "create schedules", target=name)
        if allowed is None:
            self.form_message = why
            return
        try:
            inputs = json.loads(str(form.get("inputs") or "{}"))
        except json.JSONDecodeError as exc:
            self.form_message = f"inputs must be a JSON object: {exc}"
            return
        if not isinstance(inputs, dict):
            self.form_message = 'inputs must be a JSON object, like {"day": "monday"}'
            return
        try:
            schedule, _ = await blocking(
                schedules.create,
                client(),
                name,
                str(form.get("cron", "")).strip(),
                tz=str(form.get("tz") or self.viewer_tz).strip(),
                inputs=inputs,
                overlap=str(form.get("overlap") or "skip"),
                created_by=allowed.actor,
            )
        except PlaitError as exc:
            self.form_message = str(exc)
            return
        await record(self, allowed, "schedule.create", f"schedule:{schedule.id}", workflow=name)
        self.form_message = ""
        await self._load()
