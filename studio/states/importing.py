"""Importing an exported workflow file (``plait export``, the workflow page's Export) from
the workflows page: published as it was (its version hash kept) or saved as a draft."""

from __future__ import annotations

from typing import Any

import reflex as rx

from runtime import export
from runtime.errors import PlaitError
from runtime.store.tables import WorkflowDraft
from studio.logic import fmt
from studio.states.base import blocking, client, permitted, record

MAX_FILE = 5 * 1024 * 1024
"""Bytes of one uploaded file read (a workflow export is a few KB; this keeps a wrong file
from filling the server's memory)."""


def import_text(text: str, where: str, *, as_draft: bool, author: str) -> tuple[str, bool]:
    """Import the file's text; its workflow's name, and whether it became a draft."""
    c = client()
    doc = export.read_file(text, where)
    found = export.import_workflow(c, doc, as_draft=as_draft, author=author, where=where)
    return doc["name"], isinstance(found, WorkflowDraft)


class ImportState(rx.State):
    open: bool = False
    as_draft: bool = False
    message: str = ""

    def set_open(self, value: bool) -> None:
        self.open, self.message = value, ""

    def set_as_draft(self, value: bool) -> None:
        self.as_draft = bool(value)

    async def upload(self, files: list[rx.UploadFile]) -> Any:
        allowed, why = await permitted(self, "write", "import workflows")
        if allowed is None:
            self.message = why
            return None
        if not files:
            self.message = "choose an exported workflow file (.json)"
            return None
        file = files[0]
        where = file.name or "the file"
        raw = await file.read(MAX_FILE + 1)
        if len(raw) > MAX_FILE:
            self.message = f"{where} is larger than {MAX_FILE // (1024 * 1024)} MB: not an export"
            return None
        try:
            text = raw.decode("utf-8")
            name, drafted = await blocking(
                import_text, text, where, as_draft=self.as_draft, author=allowed.actor
            )
        except UnicodeDecodeError:
            self.message = f"{where} is not a text file"
            return None
        except PlaitError as exc:
            self.message = str(exc)
            return None
        await record(self, allowed, "workflow.import", name, draft=drafted)
        self.open = False
        return rx.redirect(fmt.editor_href(name) if drafted else fmt.workflow_href(name))
