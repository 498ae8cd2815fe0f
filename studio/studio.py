"""The studio app: pages, their on-load listeners, and the REST API on the same port.

``plait studio`` serves it in Reflex's production mode. The store connection
(``runtime.default_client()``) is made on first use inside the server process, which in
embedded mode also executes the runs it starts.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from starlette.types import ASGIApp

from runtime import sharing
from runtime.api import create_api
from runtime.login import PageGuard, login_app
from studio.components import search
from studio.pages.compare import compare_page
from studio.pages.editor import editor_page
from studio.pages.not_found import not_found_page
from studio.pages.run import run_page
from studio.pages.runs import runs_page
from studio.pages.schedules import schedules_page
from studio.pages.settings import audit_page, keys_page, secrets_page, users_page
from studio.pages.workflow import workflow_page
from studio.pages.workflows import workflows_page
from studio.states.base import blocking, client, gate
from studio.states.compare import CompareState
from studio.states.editor import EditorState
from studio.states.run import ADDRESS_SCRIPT, RunState
from studio.states.run_log import RunLogState
from studio.states.runs import RunsState
from studio.states.schedules import SchedulesState
from studio.states.session import SessionState
from studio.states.settings import AuditState, KeysState, SecretsState, UsersState
from studio.states.waiting import WaitingState
from studio.states.webhooks import WebhooksState
from studio.states.workflow import WorkflowState
from studio.states.workflows import WorkflowsState

log = logging.getLogger("plait.studio")


def api() -> object:
    """``/api/v1`` (REST + docs), ``/r/<token>`` (read-only share links) and the login."""
    app = create_api(client, gate=gate())
    # share links: runtime.sharing serves the live read-only report at /r/<token>
    app.router.routes.extend(sharing.share_app().routes)
    app.router.routes.extend(login_app(gate).routes)
    return app


def guarded(asgi: ASGIApp) -> ASGIApp:
    """Pages need a session where logins are needed (runtime.login.PageGuard)."""
    return PageGuard(asgi, gate)


async def recover_runs() -> None:
    """Embedded mode: this process executes runs, so it continues those nobody is
    advancing (queued, or left by a process that stopped)."""
    if client().settings.redis_url is None:
        recovered = await blocking(client().recover)
        if recovered:
            log.info("continuing %d run(s) nobody was advancing", len(recovered))


async def run_schedules() -> None:
    """Embedded mode: no ``plait scheduler`` process runs, so this one fires schedules and
    starts delayed runs (with workers, ``plait scheduler`` does)."""
    if client().settings.redis_url is not None:
        return
    from runtime.scheduler import Scheduler

    scheduler = Scheduler(client()).start()
    try:
        await asyncio.Event().wait()
    finally:
        await blocking(scheduler.stop)


app = rx.App(
    api_transformer=[api(), guarded],  # type: ignore[list-item]
    head_components=[
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        rx.script(search.SHORTCUT),
        rx.script(ADDRESS_SCRIPT),
    ],
)
app.register_lifespan_task(recover_runs)
app.register_lifespan_task(run_schedules)

session = SessionState.load
app.add_page(
    workflows_page, route="/", title="Workflows · Plait", on_load=[session, WorkflowsState.listen]
)
app.add_page(
    workflow_page,
    route="/workflows/[wf_name]",
    title="Workflow · Plait",
    on_load=[
        session,
        WorkflowState.listen,
        SchedulesState.load_workflow,
        SchedulesState.watch,
        WebhooksState.load,
    ],
)
app.add_page(
    schedules_page,
    route="/schedules",
    title="Schedules · Plait",
    on_load=[session, SchedulesState.load_all, SchedulesState.watch],
)
app.add_page(
    runs_page,
    route="/runs",
    title="Runs · Plait",
    on_load=[session, RunsState.listen, WaitingState.listen],
)
app.add_page(
    run_page,
    route="/runs/[run_id]",
    title="Run · Plait",
    on_load=[session, RunState.listen, RunLogState.listen],
)
app.add_page(
    compare_page,
    route="/compare",
    title="Compare runs · Plait",
    on_load=[session, CompareState.load],
)
app.add_page(
    users_page, route="/settings/users", title="Users · Plait", on_load=[session, UsersState.load]
)
app.add_page(
    keys_page, route="/settings/keys", title="API keys · Plait", on_load=[session, KeysState.load]
)
app.add_page(
    secrets_page,
    route="/settings/secrets",
    title="Secrets · Plait",
    on_load=[session, SecretsState.load],
)
app.add_page(
    audit_page,
    route="/settings/audit",
    title="Audit log · Plait",
    on_load=[session, AuditState.load],
)
app.add_page(
    editor_page, route="/editor", title="Editor · Plait", on_load=[session, EditorState.load]
)
app.add_page(
    editor_page,
    route="/editor/[editor_name]",
    title="Editor · Plait",
    on_load=[session, EditorState.load],
)
app.add_page(not_found_page, route="404", title="Not found · Plait")
