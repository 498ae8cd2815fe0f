"""Starting a workflow from a gallery template on the empty workflows page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from runtime import gallery
from runtime.client import Client
from runtime.errors import PlaitError
from studio.logic import templates
from studio.states.base import blocking, client, permitted, record


def _use(c: Client, name: str, author: str) -> str:
    target = templates.free_name(name, {w.name for w in c.store.workflows()})
    gallery.use_template(c, name, target, author=author)
    return target


class TemplatesState(rx.State):
    message: str = ""

    async def use(self, name: str) -> Any:
        """Save template ``name`` as a new workflow's draft, and open it in the editor."""
        allowed, why = await permitted(self, "write", "start workflows from templates")
        if allowed is None:
            self.message = why
            return None
        try:
            workflow = await blocking(_use, client(), name, allowed.actor)
        except PlaitError as exc:
            self.message = f"could not use the template: {exc}"
            return None
        await record(self, allowed, "workflow.from_template", workflow, template=name)
        return rx.redirect(f"/editor/{workflow}")
