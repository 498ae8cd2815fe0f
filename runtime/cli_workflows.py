"""``plait export`` / ``plait import`` (a version as one JSON file, or as a Python module)
and ``plait workflows`` (versions, diff, make current, drafts, archive, duplicate, delete)
on the configured store. Publishing from the CLI records ``cli:<os user>`` as its author."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runtime import audit
from runtime.cli_common import fail
from runtime.errors import PlaitError

if TYPE_CHECKING:
    from runtime.client import Client

workflows_app = typer.Typer(
    help="Workflows: versions, diff, make current, drafts, archive, duplicate, delete.",
    no_args_is_help=True,
)


def _client() -> Client:
    import runtime as rt

    client = rt.default_client()
    if not hasattr(client, "store"):
        raise fail("this command works on the store itself; unset PLAIT_API_URL")
    return client


def export(
    name: Annotated[str, typer.Argument(help="The workflow.")],
    version: Annotated[
        str | None, typer.Option("--version", help="A version hash or prefix (default: current).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (default: stdout).")
    ] = None,
    python: Annotated[
        bool, typer.Option("--python", help="A Python module of rt.nodes.* calls instead.")
    ] = False,
) -> None:
    """Write a version as one JSON file (spec, node options, secrets by name only)."""
    from runtime import export as exporting

    try:
        doc = exporting.export_version(_client(), name, version)
        text = exporting.python_module(doc) if python else json.dumps(doc, indent=2, sort_keys=True)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    if output is None:
        typer.echo(text)
        return
    output.write_text(text if text.endswith("\n") else text + "\n")
    typer.echo(f"exported {name} {doc['version']} to {output}", err=True)


def import_(
    file: Annotated[Path, typer.Argument(help="A file `plait export` wrote.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Import as this workflow (default: the file's).")
    ] = None,
    draft: Annotated[
        bool, typer.Option("--draft", help="Save it as the workflow's draft, not a version.")
    ] = False,
) -> None:
    """Publish an exported version (keeping its hash), or save it as a workflow's draft."""
    from runtime import export as exporting

    client = _client()
    try:
        doc = exporting.read_file(file.read_text(), str(file))
        target = name or doc["name"]
        revision = None
        if draft and target in {w.name for w in client.store.workflows()}:
            current = client.store.draft(target)
            revision = None if current is None else current.revision  # asked for: replace it
        found = exporting.import_workflow(
            client,
            doc,
            name=name,
            as_draft=draft,
            revision=revision,
            author=audit.cli_actor(),
            where=str(file),
        )
    except (PlaitError, OSError) as exc:
        raise fail(str(exc)) from None
    if draft:
        typer.echo(f"saved {file} as the draft of {target} (revision {found.revision})")  # type: ignore[union-attr]
    else:
        typer.echo(f"imported {target} {found.version}")  # type: ignore[union-attr]


@workflows_app.command("versions")
def versions(name: str) -> None:
    """Published versions, newest first: who, when, message; * marks the current one."""
    try:
        infos = _client().store.version_infos(name)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    for v in infos:
        mark = "*" if v.current else " "
        when = v.created_at.strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{mark} {v.version}  {when}  {v.created_by or '-':20}  {v.message or ''}")


@workflows_app.command("current")
def make_current(name: str, version: str) -> None:
    """Make a version current (roll back): triggers not pinned to a version follow it."""
    try:
        found = _client().store.make_current(name, version)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    audit.record(
        _client().store,
        "workflow.current",
        actor=audit.cli_actor(),
        target=name,
        detail={"version": found.version},
    )
    typer.echo(f"{name}: current version is {found.version}")


@workflows_app.command("diff")
def diff(name: str, old: str, new: str) -> None:
    """How version NEW differs from OLD: nodes added, removed, and what changed."""
    from runtime import drafts

    try:
        store = _client().store
        a, b = store.find_version(name, old), store.find_version(name, new)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    result = drafts.diff_versions(a, b).shown()
    for node in result.added:
        typer.echo(f"+ {node}")
    for node in result.removed:
        typer.echo(f"- {node}")
    for node, changes in result.changed.items():
        typer.echo(f"~ {node}")
        for c in changes:
            if c.field == "code":
                typer.echo(_code_change(node, a.version, b.version, c))
            else:
                typer.echo(f"    {c.field}: {json.dumps(c.old)} -> {json.dumps(c.new)}")
    for c in result.workflow:
        typer.echo(f"~ (workflow) {c.field}: {json.dumps(c.old)} -> {json.dumps(c.new)}")


def _code_change(node: str, old: str, new: str, change: Any) -> str:
    """A code change as a unified diff of the node's sources, indented under the node."""
    from runtime.drafts import code_change_lines

    note, lines = code_change_lines(change, f"{node} @ {old}", f"{node} @ {new}")
    if note:
        return f"    code: {note}"
    return "    code:\n" + "\n".join(f"      {line}" for line in lines)


@workflows_app.command("validate")
def validate(name: str) -> None:
    """List the problems of the workflow's draft (exit 1 when there are any)."""
    from runtime import drafts

    try:
        problems = drafts.validate(drafts.current_draft(_client(), name).spec)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    for p in problems:
        typer.echo(str(p))
    if problems:
        raise typer.Exit(1)
    typer.echo("the draft is valid")


@workflows_app.command("publish")
def publish(
    name: str, message: Annotated[str, typer.Option("-m", "--message", help="What changed.")]
) -> None:
    """Publish the workflow's draft as a version and make it current."""
    from runtime import drafts

    try:
        found = drafts.publish_draft(_client(), name, message=message, author=audit.cli_actor())
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"published {name} {found.version}")


@workflows_app.command("archive")
def archive(name: str) -> None:
    """Hide a workflow from the list (its versions and runs stay)."""
    _set_archived(name, True)


@workflows_app.command("restore")
def restore(name: str) -> None:
    """Show an archived workflow in the list again."""
    _set_archived(name, False)


def _set_archived(name: str, archived: bool) -> None:
    try:
        _client().store.set_archived(name, archived)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{name} {'archived' if archived else 'restored'}")


@workflows_app.command("duplicate")
def duplicate(name: str, new_name: str) -> None:
    """A new workflow whose draft is a copy of NAME's current version."""
    from runtime import drafts

    try:
        drafts.duplicate(_client(), name, new_name, by=audit.cli_actor())
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{new_name}: a draft copied from {name}")


@workflows_app.command("delete")
def delete(name: str) -> None:
    """Delete a workflow no run, schedule or webhook references."""
    try:
        _client().delete_workflow(name)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{name} deleted")
