"""``plait replay RUN --from NODE -i k=v --override node=@file.json [--dry-run]``: a new run
reusing a finished run's checkpoints (``runtime.replay``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

import runtime as rt
from runtime.cli_common import fail
from runtime.errors import PlaitError


def _override_value(node: str, raw: str) -> Any:
    """``@file.json``: the file's JSON; otherwise the text as JSON, else as a string."""
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise fail(f"--override {node}: cannot read {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise fail(f"--override {node}: {path} is not JSON: {exc}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def replay(
    run_id: Annotated[str, typer.Argument(help="The finished run to replay.")],
    from_nodes: Annotated[
        list[str] | None,
        typer.Option("--from", help="Run this node again, and what reads it (repeatable)."),
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option("-i", "--input", help="key=value: a run input changed (JSON, else text)."),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--override", help="node=@file.json or node=value: take this as the node's output."
        ),
    ] = None,
    version: Annotated[
        str,
        typer.Option(help="latest (the workflow's latest version), source, or a version hash."),
    ] = "latest",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be reused and re-run; run nothing.")
    ] = False,
    detach: Annotated[bool, typer.Option(help="Start the replay and exit at once.")] = False,
) -> None:
    """Replay a finished run: a new run that reuses every checkpoint not downstream of a
    change (the nodes named, edited inputs, overrides, code changed in --version) and runs
    the rest."""
    from runtime.cli import _follow_to_end, parse_inputs
    from runtime.replay import parse_assignments

    try:
        changed = parse_inputs(inputs or [])
        given = {
            node: _override_value(node, raw)
            for node, raw in parse_assignments(overrides or [], "--override").items()
        }
        source = rt.get_run(run_id)
        args: dict[str, Any] = {
            "inputs": changed,
            "overrides": given,
            "version": version,
        }
        plan = source.replay_plan(list(from_nodes or []), **args)
        typer.echo(plan.text())
        if dry_run:
            return
        handle = source.replay(list(from_nodes or []), **args)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"run {handle.id} (a replay of {run_id})")
    if not detach:
        _follow_to_end(handle)
