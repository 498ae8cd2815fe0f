"""``plait webhooks``: signed webhook endpoints of the configured store (each change goes to
the audit log as ``cli:<os user>``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer

from runtime import audit
from runtime.cli_common import configured_store, fail, refused
from runtime.errors import PlaitError

if TYPE_CHECKING:
    from runtime.triggers.webhooks import Webhooks

webhooks_app = typer.Typer(
    help="Signed webhook endpoints that start runs: create, list, rotate, delete.",
    no_args_is_help=True,
)


def _service() -> Webhooks:
    from runtime.config import settings
    from runtime.triggers.webhooks import Webhooks

    return Webhooks(configured_store(), settings())


def _url(path: str) -> str:
    from runtime.config import settings

    public = settings().public_url
    return public.rstrip("/") + path if public else path


@webhooks_app.command("create")
def webhooks_create(
    workflow: Annotated[str, typer.Argument(help="The workflow its requests start.")],
    version: Annotated[
        str, typer.Option(help="latest (at each delivery) or a version hash to pin.")
    ] = "latest",
    mode: Annotated[str, typer.Option(help="standard (Standard Webhooks) or github.")] = "standard",
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="INPUT=FIELD: a run input from a body field (repeatable)."),
    ] = None,
    max_bytes: Annotated[int | None, typer.Option(help="The largest body (default 1 MB).")] = None,
    rate_limit: Annotated[
        str | None, typer.Option(help="Requests allowed, e.g. '60 per minute'.")
    ] = None,
) -> None:
    """Create an endpoint and print its URL and signing secret (the secret only now)."""
    mapping = {}
    for pair in map_ or []:
        name, sep, field = pair.partition("=")
        if not sep or not name or not field:
            raise fail(f"--map {pair!r}: use INPUT=FIELD")
        mapping[name] = field
    service = _service()
    try:
        made = service.create(
            workflow,
            version=version,
            mode=mode,
            mapping=mapping or None,
            max_body_bytes=max_bytes,
            rate_limit=rate_limit,
            by=audit.cli_actor(),
        )
    except PlaitError as exc:
        raise refused(service.store, "webhook.create", exc, target=workflow) from None
    audit.record(service.store, "webhook.create", actor=audit.cli_actor(), target=made.endpoint.id)
    typer.echo(_url(made.path))
    typer.echo(made.secret)
    typer.echo(
        f"webhook {made.endpoint.id} for {workflow} ({made.endpoint.version or 'latest'}, "
        f"{mode}): the secret above is shown once; sign requests with it",
        err=True,
    )


@webhooks_app.command("list")
def webhooks_list(
    workflow: Annotated[str | None, typer.Argument(help="Only this workflow's.")] = None,
) -> None:
    """Endpoints: id, workflow, URL, mode, version, mapping (never a secret)."""
    found = _service().endpoints(workflow)
    if not found:
        typer.echo("no webhooks")
        return
    typer.echo(f"{'ID':28}  {'WORKFLOW':20}  {'MODE':8}  {'VERSION':12}  URL")
    for endpoint, name in found:
        mapping = f"  map {json.dumps(endpoint.mapping)}" if endpoint.mapping else ""
        typer.echo(
            f"{endpoint.id:28}  {name[:20]:20}  {endpoint.mode:8}  "
            f"{(endpoint.version or 'latest')[:12]:12}  {_url('/hooks/' + endpoint.id)}{mapping}"
        )


@webhooks_app.command("rotate")
def webhooks_rotate(
    endpoint_id: str,
    overlap: Annotated[float, typer.Option(help="Hours the old secret keeps verifying.")] = 24.0,
) -> None:
    """Print a new signing secret; the old one verifies for ``--overlap`` hours more."""
    service = _service()
    try:
        made = service.rotate(endpoint_id, overlap=dt.timedelta(hours=overlap))
    except PlaitError as exc:
        raise refused(service.store, "webhook.rotate", exc, target=endpoint_id) from None
    audit.record(
        service.store,
        "webhook.rotate",
        actor=audit.cli_actor(),
        target=endpoint_id,
        detail={"overlap_hours": overlap},
    )
    typer.echo(made.secret)
    typer.echo(f"the old secret of {endpoint_id} verifies for {overlap:g} h more", err=True)


@webhooks_app.command("delete")
def webhooks_delete(endpoint_id: str) -> None:
    """Delete an endpoint with its secrets and deliveries (its runs stay)."""
    service = _service()
    try:
        service.delete(endpoint_id)
    except PlaitError as exc:
        raise refused(service.store, "webhook.delete", exc, target=endpoint_id) from None
    audit.record(service.store, "webhook.delete", actor=audit.cli_actor(), target=endpoint_id)
    typer.echo(f"deleted webhook {endpoint_id}")
