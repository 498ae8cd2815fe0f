"""``plait templates``: the gallery of ready-made workflows, and ``plait templates use``,
which saves one as the draft of a new workflow (``runtime.gallery``)."""

from __future__ import annotations

from typing import Annotated

import typer

from runtime import audit
from runtime.cli_common import fail
from runtime.errors import PlaitError

templates_app = typer.Typer(
    help="The template gallery: list it; `use NAME` makes a workflow draft of one.",
    invoke_without_command=True,
)


@templates_app.callback()
def listing(ctx: typer.Context) -> None:
    """List the templates by category: name, title, the secrets each reads."""
    if ctx.invoked_subcommand is not None:
        return
    from runtime import gallery

    for t in gallery.templates():
        secrets = f"  (secrets: {', '.join(t.secrets)})" if t.secrets else ""
        typer.echo(f"{t.category:13} {t.name:24} {t.title}{secrets}")


@templates_app.command("use")
def use(
    name: Annotated[str, typer.Argument(help="The template (see `plait templates`).")],
    as_: Annotated[
        str | None,
        typer.Option("--as", help="The new workflow's name (default: the template's)."),
    ] = None,
) -> None:
    """Save a template as the draft of a new workflow: edit, test-run and publish it."""
    from runtime import gallery
    from runtime.cli_workflows import _client

    try:
        used = gallery.use_template(_client(), name, as_, author=audit.cli_actor())
    except PlaitError as exc:
        raise fail(str(exc)) from None
    workflow = used.draft.spec["name"]
    typer.echo(f"{workflow}: a draft from template {name} (revision {used.draft.revision})")
    for secret in used.missing_secrets:
        typer.echo(f"store secret {secret} before running it: plait secrets set {secret}")
    typer.echo(f"test-run it in the studio, then: plait workflows publish {workflow} -m MESSAGE")
