"""The studio app: pages, their on-load listeners, and the REST API on the same port.

``plait studio`` serves it in Reflex's production mode. The store connection
(``runtime.default_client()``) is made on first use inside the server process, which in
embedded mode also executes the runs it starts.
"""

from __future__ import annotations

import logging

import reflex as rx

from runtime import sharing
from runtime.api import create_api
from studio.pages.not_found import not_found_page
from studio.pages.run import run_page
from studio.pages.runs import runs_page
from studio.pages.workflow import workflow_page
from studio.pages.workflows import workflows_page
from studio.states.base import blocking, client
from studio.states.run import RunState
from studio.states.runs import RunsState
from studio.states.workflow import WorkflowState
from studio.states.workflows import WorkflowsState

log = logging.getLogger("plait.studio")


def api() -> object:
    """``/api/v1`` (REST + docs) and ``/r/<token>`` (read-only share links)."""
    app = create_api(client)
    # share links: runtime.sharing serves the live read-only report at /r/<token>
    app.router.routes.extend(sharing.share_app().routes)
    return app


async def recover_runs() -> None:
    """Embedded mode: this process executes runs, so it continues those nobody is
    advancing (queued, or left by a process that stopped)."""
    if client().settings.redis_url is None:
        recovered = await blocking(client().recover)
        if recovered:
            log.info("continuing %d run(s) nobody was advancing", len(recovered))


app = rx.App(api_transformer=api())  # type: ignore[arg-type]
app.register_lifespan_task(recover_runs)
app.add_page(workflows_page, route="/", title="Workflows · Plait", on_load=WorkflowsState.listen)
app.add_page(
    workflow_page,
    route="/workflows/[wf_name]",
    title="Workflow · Plait",
    on_load=WorkflowState.listen,
)
app.add_page(runs_page, route="/runs", title="Runs · Plait", on_load=RunsState.listen)
app.add_page(run_page, route="/runs/[run_id]", title="Run · Plait", on_load=RunState.listen)
app.add_page(not_found_page, route="404", title="Not found · Plait")
