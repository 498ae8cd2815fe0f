"""Changing a workflow from its page: make a version current, archive or restore it,
duplicate, delete, export a version. Each action checks the sender's role on the server and
is written to the audit log."""

from __future__ import annotations

import json
import re
from typing import Any

import reflex as rx

from runtime import drafts, export
from runtime.errors import PlaitError
from studio.logic import fmt
from studio.states.base import blocking, client, permitted, record
from studio.states.workflow import WorkflowState


def export_file_name(workflow: str, version: str) -> str:
    """``team-report.1a2b3c4d.workflow.json``: a file name any system accepts."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", workflow).strip("-.") or "workflow"
    return f"{stem}.{fmt.short(version)}.workflow.json"


class WorkflowManageState(rx.State):
    message: str = ""
    """What the last action said (an error, or what it did)."""
    delete_open: bool = False
    duplicate_open: bool = False

    def _name(self) -> str:
        return str(self.wf_name)  # type: ignore[attr-defined]

    async def make_current(self, version: str) -> Any:
        name = self._name()
        allowed, why = await permitted(self, "write", "make versions current", target=name)
        if allowed is None:
            self.message = why
            return None
        try:
            await blocking(client().store.make_current, name, version)
        except PlaitError as exc:
            self.message = str(exc)
            return None
        await record(self, allowed, "workflow.current", f"{name} {version}")
        self.message = (
            f"version {fmt.short(version)} is current: runs by name and triggers start it"
        )
        return WorkflowState.reload

    async def set_archived(self, archived: bool) -> Any:
        name = self._name()
        action = "archive workflows" if archived else "restore workflows"
        allowed, why = await permitted(self, "write", action, target=name)
        if allowed is None:
            self.message = why
            return None
        try:
            await blocking(client().store.set_archived, name, archived)
        except PlaitError as exc:  # deleted meanwhile
            self.message = str(exc)
            return None
        await record(self, allowed, "workflow.archive" if archived else "workflow.restore", name)
        self.message = (
            "archived: hidden from the workflow list, nothing lost" if archived else "restored"
        )
        return WorkflowState.reload

    def set_duplicate_open(self, value: bool) -> None:
        self.duplicate_open, self.message = value, ""

    async def duplicate(self, form_data: dict[str, Any]) -> Any:
        name, new = self._name(), str(form_data.get("name", "")).strip()
        allowed, why = await permitted(self, "write", "duplicate workflows", target=new or name)
        if allowed is None:
            self.message = why
            return None
        if not new:
            self.message = "give the copy a name"
            return None
        try:
            await blocking(drafts.duplicate, client(), name, new, by=allowed.actor)
        except PlaitError as exc:
            self.message = str(exc)
            return None
        await record(self, allowed, "workflow.duplicate", f"{name} -> {new}")
        self.duplicate_open = False
        return rx.redirect(fmt.editor_href(new))

    def set_delete_open(self, value: bool) -> None:
        # closing keeps the message: the dialog closes as its Delete is clicked, after which
        # the delete's own answer (a refusal, why) must stay
        self.delete_open = value
        if value:
            self.message = ""

    async def delete(self) -> Any:
        name = self._name()
        allowed, why = await permitted(self, "write", "delete workflows", target=name)
        if allowed is None:
            self.message = why
            return None
        try:
            await blocking(client().delete_workflow, name)
        except PlaitError as exc:  # runs, schedules or webhooks still reference it
            self.message = str(exc)
            self.delete_open = False
            return None
        await record(self, allowed, "workflow.delete", name)
        self.delete_open = False
        return rx.redirect("/")

    async def export_version(self, version: str) -> Any:
        name = self._name()
        if (await permitted(self, "read", "export workflows"))[0] is None:
            return None
        try:
            doc = await blocking(export.export_version, client(), name, version or None)
        except PlaitError as exc:
            self.message = str(exc)
            return None
        return rx.download(
            data=json.dumps(doc, indent=2, sort_keys=True),
            filename=export_file_name(name, doc.get("version", version)),
        )
