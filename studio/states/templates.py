"""Publishing a starter workflow from the empty workflows page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from runtime.errors import PlaitError
from studio.logic import fmt, templates
from studio.states.base import blocking, client, permitted, record


class TemplatesState(rx.State):
    message: str = ""

    async def use(self, name: str) -> Any:
        """Publish template ``name`` as a workflow, and open it."""
        allowed, why = await permitted(self, "write", "publish workflows")
        if allowed is None:
            self.message = why
            return None
        try:
            graph = templates.template(name).build()
            await blocking(client().publish, graph)
        except (KeyError, PlaitError) as exc:
            self.message = f"could not publish the template: {exc}"
            return None
        await record(self, allowed, "workflow.publish", graph.name)
        return rx.redirect(fmt.workflow_href(graph.name))
