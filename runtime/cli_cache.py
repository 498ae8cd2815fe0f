"""``plait cache clear``: forget node result cache entries (``runtime.cache``)."""

from __future__ import annotations

from typing import Annotated

import typer

from runtime.cli_common import configured_store, fail
from runtime.errors import PlaitError

cache_app = typer.Typer(help="Node result cache (@g.node(cache=...)).", no_args_is_help=True)


@cache_app.command("clear")
def clear(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only this workflow's entries.")
    ] = None,
    node: Annotated[
        str | None, typer.Option("--node", "-n", help="Only this node's (needs --workflow).")
    ] = None,
) -> None:
    """Delete cache entries: all of them, a workflow's, or one node's. Stored runs and their
    outputs stay; the next run of a cached node runs it again."""
    try:
        store = configured_store()
        try:
            count = store.cache_clear(workflow, node)
        finally:
            store.dispose()
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"cleared {count} cache {'entry' if count == 1 else 'entries'}")
