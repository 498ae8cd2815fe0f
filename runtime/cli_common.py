"""What every ``plait`` command module shares: how a refusal is printed, and the configured
store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from runtime.store import Store


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr in red; the exit to raise (status ``code``)."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def configured_store() -> Store:
    """The store ``PLAIT_*`` settings name, migrated (for commands that need no client)."""
    from runtime.config import settings
    from runtime.store import open_store

    config = settings()
    store = open_store(config.resolved_database_url(), pooler=config.database_pooler)
    store.migrate()
    return store
