"""``plait diff A B``: how run B differs from run A, node by node."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from runtime.cli_common import fail
from runtime.errors import PlaitError


def diff(
    run_a: Annotated[str, typer.Argument(help="The run compared against (A).")],
    run_b: Annotated[str, typer.Argument(help="The run compared (B).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="The whole diff as one JSON document.")
    ] = False,
) -> None:
    """Compare two runs: each node unchanged, changed (with its value diff) or only in one
    run, with status, attempts and timing; and the runs' inputs. Values are shown as the
    runs' redaction shows them. Exit status 0 when nothing differs, 1 when something does,
    2 when the runs cannot be compared."""
    import runtime as rt
    from runtime.compare import diff_runs

    try:
        result = diff_runs(rt.get_run(run_a), rt.get_run(run_b), redact=True)
    except PlaitError as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        typer.echo(result.text())
    if not result.same:
        raise typer.Exit(1)
