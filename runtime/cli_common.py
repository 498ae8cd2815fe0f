"""What every ``plait`` command module shares: how a refusal is printed, and the configured
store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from runtime.store import Store


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr in red; the exit to raise (status ``code``)."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def refused(
    store: Store, action: str, exc: Exception, *, target: str | None = None, **detail: Any
) -> typer.Exit:
    """Write a command's refusal to the audit log as the API writes a refused request's
    (``denied`` for a missing right, ``failed`` for anything else), then print it; the exit
    to raise. The error text names names and ids, never a secret's value."""
    from runtime import audit
    from runtime.auth.roles import Forbidden, Unauthenticated

    message = str(exc)
    audit.record(
        store,
        action,
        actor=audit.cli_actor(),
        target=target,
        outcome="denied" if isinstance(exc, Forbidden | Unauthenticated) else "failed",
        detail={**detail, "error": message[:500]},
    )
    return fail(message)


def configured_store() -> Store:
    """The store ``PLAIT_*`` settings name, migrated (for commands that need no client)."""
    from runtime.config import settings
    from runtime.store import open_store

    config = settings()
    store = open_store(config.resolved_database_url(), pooler=config.database_pooler)
    store.migrate()
    return store
