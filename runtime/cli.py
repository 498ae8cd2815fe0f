"""The ``plait`` command line."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import cloudpickle
import typer

import runtime as rt
from runtime import redaction
from runtime.cli_common import fail
from runtime.errors import PlaitError
from runtime.events import TOKENS, EventDict
from runtime.graph import Graph
from runtime.redaction import Redactor
from runtime.statuses import (
    NODE_RETRIED,
    RUN_FINISHED,
    RUN_PARKED,
    RUN_STATUSES,
    RUN_UNSUCCESSFUL,
    parked_label,
)
from runtime.store import db, open_store

if TYPE_CHECKING:
    from runtime.config import Settings
    from runtime.keys import Keyring, SigningKey

app = typer.Typer(
    help="Plait: durable, watchable workflow graphs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
signing_app = typer.Typer(
    help="The keys that sign workflow code: show, generate, rotate.", no_args_is_help=True
)
app.add_typer(signing_app, name="signing")
# accounts, API keys and secrets (runtime/cli_access.py)
from runtime.cli_access import keys_app, secrets_app, users_app  # noqa: E402

app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(secrets_app, name="secrets")
from runtime.cli_cache import cache_app  # noqa: E402
from runtime.cli_diff import diff  # noqa: E402
from runtime.cli_replay import replay  # noqa: E402
from runtime.cli_retention import gc  # noqa: E402
from runtime.cli_schedules import schedules_app  # noqa: E402
from runtime.cli_templates import templates_app  # noqa: E402
from runtime.cli_webhooks import webhooks_app  # noqa: E402
from runtime.cli_workflows import export, import_, workflows_app  # noqa: E402

app.command("gc")(gc)
app.command("diff")(diff)
app.command("replay")(replay)
app.add_typer(schedules_app, name="schedules")
app.add_typer(cache_app, name="cache")
app.add_typer(webhooks_app, name="webhooks")
app.command("export")(export)
app.command("import")(import_)
app.add_typer(workflows_app, name="workflows")
app.add_typer(templates_app, name="templates")


def load_graph(target: str) -> Graph:
    """``path/to/file.py:graph_name`` or ``package.module:graph_name`` -> the Graph."""
    location, _, attr = target.rpartition(":")
    if not location or not attr:
        raise fail(f"expected FILE.py:GRAPH or module:GRAPH, got {target!r}")
    if location.endswith(".py"):
        path = Path(location).resolve()
        if not path.exists():
            raise fail(f"no such file: {location}")
        sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        # a file is not importable from wherever the run is recovered: ship its code by value
        cloudpickle.register_pickle_by_value(module)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(location)
    graph = getattr(module, attr, None)
    if not isinstance(graph, Graph):
        raise fail(f"{location} has no Graph named {attr!r}")
    return graph


def parse_inputs(pairs: list[str], *, text: bool = False) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON, else strings.
    ``text``: keep every value as its text (the graph's declared types then read it)."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise fail(f"input {pair!r} is not key=value")
        if text:
            inputs[key] = raw
            continue
        try:
            inputs[key] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[key] = raw
    return inputs


def describe(event: EventDict, shown: Redactor = redaction.DEFAULT) -> str | None:
    """One progress line for an event (redacted), or ``None`` for events not worth a
    line."""
    line = _describe(event)
    return None if line is None else shown.text(line)


def _describe(event: EventDict) -> str | None:
    kind, node, data = event["type"], event["node"], event["data"]
    stamp = time.strftime("%H:%M:%S", time.localtime(event["at"]))
    if kind == "node.succeeded":
        return f"{stamp}  ✓ {node}"
    if kind == "node.failed":
        return f"{stamp}  ✗ {node}: {data.get('error_type')}: {data.get('error')}"
    if kind == "node.retrying":
        return f"{stamp}  ↻ {node} failed ({data.get('error')}); retry in {data.get('retry_in')}s"
    if kind == "node.waiting":
        return f"{stamp}  … {node} is waiting for input" + _until(data)
    if kind == "node.sleeping":
        return f"{stamp}  z {node} is sleeping" + _until(data)
    if kind == "node.skipped":
        untaken = " (untaken)" if data.get("untaken") else ""
        return f"{stamp}  - {node} skipped{untaken}: {data.get('reason')}"
    if kind == "node.interrupted":
        return f"{stamp}  ! {node} was interrupted; running it again"
    if kind == "node.not_needed":
        return f"{stamp}  · {node} not needed"
    if kind == "run.retried":
        return f"{stamp}  run retried: {', '.join(data.get('restart') or []) or 'nothing'} again"
    if kind.startswith("run.") and kind not in ("run.queued", "run.running"):
        return f"{stamp}  run {kind.removeprefix('run.')}" + _until(data)
    return None


def _until(data: dict[str, Any]) -> str:
    wake_at = data.get("wake_at")
    if not isinstance(wake_at, str):
        return ""
    return f" until {dt.datetime.fromisoformat(wake_at):%H:%M:%S} UTC"


def _show_value(value: Any, shown: Redactor) -> str:
    text = shown.text(repr(shown.value(value)))
    return text if len(text) < 2000 else text[:2000] + " …"


def follow_run(run: rt.Run, after: int = 0) -> str:
    """Print progress (events after ``after``) until the run ends or waits; returns its
    status."""
    shown = redaction.for_run(run)
    for event in run.events(after, stop_at_end=True):
        line = describe(event, shown)
        if line:
            typer.echo(line)
        if event["type"] == "run.waiting":
            break
    return run.status


def print_outcome(run: rt.Run) -> None:
    """The outputs, what a wait expects, or why the run failed (redacted)."""
    status = run.status
    shown = redaction.for_run(run)
    if status == "succeeded":
        for name, value in run.outputs.items():
            typer.echo(f"{name} = {_show_value(value, shown)}")
    elif status == "waiting":
        for node, schema in run.waiting.items():
            fields = ", ".join(schema.get("properties", {}))
            typer.echo(
                f"waiting on {node!r} (fields: {fields}); answer with:\n"
                f"  plait resume {run.id} {node} --json '{{...}}'"
            )
    elif status == "failed":
        typer.secho(shown.text(run.error or "failed"), fg=typer.colors.RED, err=True)


@app.command()
def run(
    target: Annotated[str, typer.Argument(help="FILE.py:GRAPH or module:GRAPH")],
    inputs: Annotated[list[str] | None, typer.Option("-i", "--input", help="key=value")] = None,
    detach: Annotated[bool, typer.Option(help="Start the run and exit at once.")] = False,
    outputs: Annotated[
        list[str] | None,
        typer.Option("-o", "--output", help="Run only this node and what it needs (repeatable)."),
    ] = None,
) -> None:
    """Run a graph, printing each node as it finishes, then the outputs."""
    graph = load_graph(target)
    client = rt.default_client()
    try:
        wanted = outputs or None
        typed = graph.check_inputs(parse_inputs(inputs or [], text=True), wanted, from_text=True)
        handle = client.start(graph, typed, trigger="cli", outputs=wanted)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"run {handle.id} ({graph.name} {graph.version})")
    if not detach:
        _follow_to_end(handle)


def _follow_to_end(handle: rt.Run, after: int = 0) -> None:
    """Print the run's progress and outcome; exit 1 when it failed or was cancelled."""
    status = follow_run(handle, after=after)
    print_outcome(handle)
    if status in RUN_UNSUCCESSFUL:
        raise typer.Exit(1)


@app.command()
def retry(
    run_id: str,
    detach: Annotated[bool, typer.Option(help="Queue the run again and exit at once.")] = False,
) -> None:
    """Continue a failed or cancelled run from its failure: the same run, whose failed,
    skipped and cancelled nodes run again; succeeded nodes keep their checkpoints."""
    try:
        handle = rt.get_run(run_id)
        seen = handle.client.last_seq(run_id)
        restart = [n.name for n in handle.nodes.values() if n.status in NODE_RETRIED]
        handle.retry()
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"retrying run {run_id}: {', '.join(restart) or 'nothing'} again")
    if not detach:
        _follow_to_end(handle, after=seen)


@app.command()
def rerun(
    run_id: str,
    detach: Annotated[bool, typer.Option(help="Start the run and exit at once.")] = False,
) -> None:
    """Start a new run of the same version with the same inputs."""
    try:
        handle = rt.get_run(run_id).rerun()
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"run {handle.id} (a rerun of {run_id})")
    if not detach:
        _follow_to_end(handle)


@app.command()
def runs(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    trigger: Annotated[
        str | None, typer.Option(help="Only runs started this way (sdk, cli, api, ...).")
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="Only runs started by this user (or key:<id>).")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
) -> None:
    """List runs, newest first."""
    if status is not None and status not in RUN_STATUSES:  # a typo is not "no runs"
        raise fail(f"unknown status {status!r}: a run is one of {', '.join(RUN_STATUSES)}")
    client = rt.default_client()
    if not hasattr(client, "store"):  # a remote studio (PLAIT_API_URL)
        try:
            handles = client.runs(
                workflow=workflow, status=status, trigger=trigger, owner=owner, limit=limit
            )
            rows = [(h.record, h.workflow) for h in handles]
        except PlaitError as exc:
            raise fail(str(exc)) from None
    else:
        rows = client.store.list_runs(
            workflow=workflow, status=status, trigger=trigger, owner=owner, limit=limit
        )
    if not rows:
        typer.echo("no runs")
        return
    typer.echo(f"{'RUN':32}  {'WORKFLOW':20}  {'STATUS':9}  {'TRIGGER':8}  CREATED")
    for record, name in rows:
        created = record.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        wakes = _wakes(record)
        typer.echo(
            f"{record.id:32}  {name[:20]:20}  {record.status:9}  {record.trigger:8}  {created}"
            + (f"  ({wakes})" if wakes else "")
        )


def _wakes(record: Any) -> str:
    """``until 14:05:00 UTC`` for a parked run with a wake time, else nothing."""
    wake_at = getattr(record, "wake_at", None)  # a remote studio's runs may not say
    if record.status not in RUN_PARKED or wake_at is None:
        return ""
    return parked_label(record.status, wake_at).removeprefix(record.status).strip()


@app.command()
def show(run_id: str) -> None:
    """Show a run: status, each node with attempts and timings, errors."""
    try:
        handle = rt.get_run(run_id)
        record = handle.record
    except PlaitError as exc:
        raise fail(str(exc)) from None
    shown = redaction.for_run(handle)
    trigger = record.trigger + (f" {record.trigger_ref}" if record.trigger_ref else "")
    typer.echo(f"run {record.id}  {handle.workflow}  {record.status}  (trigger {trigger})")
    if record.status == "scheduled" and record.start_at is not None:
        typer.echo(f"  starts at {record.start_at.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}")
    if wakes := _wakes(record):
        typer.echo(f"  {record.status} {wakes}")
    for info in handle.nodes.values():
        took = f"{info.duration * 1000:.1f} ms" if info.duration is not None else ""
        typer.echo(f"  {info.name:24} {info.label:10} attempts={info.attempts:<3} {took}")
        if info.status == "failed" and info.traceback:
            traceback = shown.text(info.traceback.rstrip())
            typer.echo("    " + traceback.replace("\n", "\n    "))
        elif info.status == "skipped" and info.error:  # behind a failure, or an untaken path
            typer.echo("    " + shown.text(info.error))
    print_outcome(handle)


@app.command()
def resume(
    run_id: str,
    node: str,
    payload: Annotated[str, typer.Option("--json", help="The payload as a JSON object.")],
    follow: Annotated[bool, typer.Option(help="Follow the run after resuming.")] = True,
) -> None:
    """Answer a waiting node with a JSON payload."""
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise fail(f"--json is not valid JSON: {exc}") from None
    try:
        handle = rt.get_run(run_id)
        seen = handle.client.last_seq(run_id)
        handle.resume(node, data, answered_by="cli")
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"resumed {node} of run {run_id}")
    if follow:
        status = follow_run(handle, after=seen)
        print_outcome(handle)
        if status in RUN_UNSUCCESSFUL:
            raise typer.Exit(1)


@app.command()
def cancel(run_id: str) -> None:
    """Cancel a run."""
    try:
        status = rt.get_run(run_id).cancel()
    except PlaitError as exc:
        raise fail(str(exc)) from None
    if status in RUN_FINISHED and status != "cancelled":  # finished before it was asked
        raise fail(f"run {run_id} had already {status}; nothing was cancelled")
    typer.echo(f"run {run_id}: {status}")


@app.command()
def recover() -> None:
    """Continue runs whose process died, from their last checkpoint, and wait for them.
    Exits 1 when a run could not be continued here (its code does not load in this
    process: the reason is printed, and the run is left for a process that can)."""
    client = rt.default_client()
    marks = {
        r.id: client.store.last_seq(r.id)
        for r in [*client.store.free_runs(), *client.store.held_leases()]
    }
    recovered = client.recover(watch=True)
    if not recovered:
        typer.echo("nothing to recover")
        return
    for handle in recovered:
        typer.echo(f"recovering run {handle.id} ({handle.workflow})")
    stalled = 0
    todo, followed = list(recovered), {h.id for h in recovered}
    while todo:
        handle = todo.pop(0)
        outcome = _settled_or_stalled(handle, marks.get(handle.id, 0))
        stalled += outcome.startswith("stalled")
        typer.echo(f"run {handle.id}: {outcome}")
        parent = handle.parent
        if parent is not None and parent.id not in followed:
            # a child's end queued its parent here: follow that to its end too
            followed.add(parent.id)
            todo.append(parent)
    if stalled:
        raise fail(f"{stalled} run(s) could not be continued here")


def _settled_or_stalled(handle: rt.Run, after: int) -> str:
    """Follow a run until it settles (finished or waiting) or a pass gives up on it here."""
    for event in handle.events(after, stop_at_end=True):
        if event["type"] == "run.stalled":
            return f"stalled: {event['data'].get('reason')}"
        if event["type"] == "run.waiting":
            break
    return handle.status


@app.command()
def report(
    run_id: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")] = Path(
        "report.html"
    ),
) -> None:
    """Write a run's self-contained HTML report."""
    try:
        handle = rt.get_run(run_id)
        page = handle.report(str(output))
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"wrote {output} ({len(page.encode()) / 1024:.0f} KB, run {handle.status})")


@app.command()
def share(
    run_id: Annotated[str | None, typer.Argument(help="Run to share or list links of.")] = None,
    expires: Annotated[
        str | None, typer.Option(help="Lifetime such as 30m, 12h or 7d; none = until revoked.")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the run's links.")] = False,
    revoke: Annotated[int | None, typer.Option(help="Revoke the link with this id.")] = None,
) -> None:
    """Create, list or revoke read-only share links (served at /r/<token> by the studio)."""
    from runtime import sharing
    from runtime.config import settings

    try:
        if revoke is not None:
            sharing.revoke_link(revoke, run_id=run_id)
            typer.echo(f"revoked link {revoke}")
            return
        if run_id is None:
            raise fail("give a RUN_ID (or --revoke LINK_ID)")
        if list_:
            for link in sharing.list_links(run_id):
                until = link.expires_at.isoformat() if link.expires_at else "until revoked"
                typer.echo(f"{link.id:6}  {link.state:8}  {until}")
            return
        lifetime = sharing.parse_lifetime(expires or "")
        _token, path = sharing.create_link(run_id, expires_in=lifetime, created_by="cli")
    except PlaitError as exc:
        raise fail(str(exc)) from None
    public_url = settings().public_url
    typer.echo(public_url.rstrip("/") + path if public_url else path)
    if not public_url:
        typer.echo("(on the studio's address; set PLAIT_PUBLIC_URL to print whole links)", err=True)


@app.command()
def watch(
    run_id: str,
    tokens: Annotated[
        bool, typer.Option("--tokens", help="Show LLM nodes' text as it streams in.")
    ] = False,
) -> None:
    """Follow a run's events: its history, then live, until it ends."""
    try:
        handle = rt.get_run(run_id)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"run {handle.id} ({handle.workflow})")
    shown = redaction.for_run(handle)
    streaming: str | None = None  # the node whose tokens the current line shows
    for event in handle.events(stop_at_end=True, tokens=tokens):
        if event["type"] == TOKENS:
            if streaming != event["node"]:
                typer.echo(f"{event['node']} » ", nl=False)
                streaming = event["node"]
            typer.echo(shown.text(event["data"]["text"]), nl=False)
            continue
        if streaming is not None:
            typer.echo("")
            streaming = None
        typer.echo(describe(event, shown) or f"{event['type']} {event['node'] or ''}".rstrip())
    print_outcome(handle)


@app.command()
def worker(
    processes: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Runs advanced at once per process (PLAIT_WORKER_CONCURRENCY)."),
    ] = None,
    shutdown_wait: Annotated[
        int, typer.Option(help="Seconds a stopping worker lets running passes finish.")
    ] = 30,
) -> None:
    """Execute runs from the Redis queue (needs PLAIT_REDIS_URL and a shared database)."""
    from runtime.config import settings

    config = settings()
    if not config.redis_url:
        raise fail("plait worker needs PLAIT_REDIS_URL (and PLAIT_DATABASE_URL shared by all)")
    _warn_about_worker_keys(config)
    if concurrency:  # the worker processes size their engine's node threads from it
        os.environ["PLAIT_WORKER_CONCURRENCY"] = str(concurrency)
    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import run_worker

    args = WorkerArgs.from_cli(
        [
            "runtime.queue:broker",
            "--workers",
            str(processes),
            "--max-async-tasks",
            str(concurrency or config.worker_concurrency),
            "--max-prefetch",
            "0",
            "--ack-type",
            "when_executed",
            "--wait-tasks-timeout",
            str(shutdown_wait),
            "--receiver",
            "runtime.queue:Receiver",
        ]
    )
    typer.echo(
        f"plait worker: {processes} process(es), queue {config.queue!r}, "
        f"store {db.display_url(config.resolved_database_url())}"
    )
    raise typer.Exit(run_worker(args) or 0)


def _warn_about_worker_keys(config: Settings) -> None:
    from runtime.keys import Keyring

    try:
        keyring = Keyring.from_settings(config)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    if keyring.signer is not None:
        typer.secho(
            f"warning: this worker can read the private signing key {keyring.signer.key_id}, "
            "so node code it runs could sign code that every worker accepts; give workers "
            "PLAIT_VERIFY_KEYS only",
            fg=typer.colors.YELLOW,
            err=True,
        )
    elif not keyring.trusted:
        typer.secho(
            "warning: this worker trusts no signing key and will run no stored code; set "
            "PLAIT_VERIFY_KEYS",
            fg=typer.colors.YELLOW,
            err=True,
        )


@app.command()
def scheduler(
    poll: Annotated[
        float, typer.Option(help="Longest wait between rounds (new schedules, delayed runs).")
    ] = 1.0,
) -> None:
    """Fire due schedules and start delayed runs when due, until a signal. Any number may
    run: one leads (a PostgreSQL advisory lock), and each fire time starts one run."""
    import signal

    from runtime.scheduler import Scheduler

    client = rt.default_client()
    if not hasattr(client, "store"):
        raise fail("plait scheduler needs the database (PLAIT_DATABASE_URL), not PLAIT_API_URL")
    runner = Scheduler(client, poll=poll)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: runner.stop())
    count = len(client.store.schedules())
    typer.echo(f"plait scheduler: store {client.store.display_url}; {count} schedules")
    runner.run_forever()


@app.command()
def studio(
    port: Annotated[int, typer.Option(help="The one port for pages, websocket and API.")] = 3000,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; any but 127.0.0.1 needs users (a login)."),
    ] = "127.0.0.1",
    build_only: Annotated[
        bool,
        typer.Option(
            "--build-only",
            help="Build the frontend for --port and exit (an image does this at build time, "
            "so its start serves at once).",
        ),
    ] = False,
) -> None:
    """Start the studio (web UI + REST API under /api/v1) in Reflex production mode. With
    the embedded default it also executes the runs it starts; with PLAIT_REDIS_URL workers
    do. The frontend is built on the first start on a port (with the bun of the Python
    environment) and again only when the sources it is built from change."""
    import shutil

    from runtime.config import settings
    from runtime.studio_server import bundled_bun

    root = Path(__file__).resolve().parent.parent
    if not (root / "rxconfig.py").exists() or not (root / "studio" / "studio.py").exists():
        raise fail(f"the studio app is not next to the runtime package (looked in {root})")
    config = settings()
    env = {
        **os.environ,
        # the server runs in the app's directory: pin the store to this one
        "PLAIT_HOME": str(config.home.resolve()),
        "PLAIT_DATABASE_URL": db.absolute_sqlite(config.resolved_database_url()),
        # graphs pickled by reference import their modules from here
        "PYTHONPATH": os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH")) if p),
        # one build directory per port: the port is compiled into the frontend
        "REFLEX_WEB_WORKDIR": os.environ.get("REFLEX_WEB_WORKDIR")
        or str(_cache_home() / "studio" / str(port)),
        "REFLEX_TELEMETRY_ENABLED": os.environ.get("REFLEX_TELEMETRY_ENABLED", "false"),
        "REFLEX_CHECK_LATEST_VERSION": os.environ.get("REFLEX_CHECK_LATEST_VERSION", "false"),
    }
    if "NPM_CONFIG_REGISTRY" not in env:
        # skips Reflex's probe of public npm mirrors (an npm, where there is one, knows the
        # registry its user configured)
        registry = (
            _subprocess_output(["npm", "config", "get", "registry"]) if shutil.which("npm") else ""
        )
        env["NPM_CONFIG_REGISTRY"] = registry or "https://registry.npmjs.org/"
    bun = bundled_bun()
    if bun is not None and "REFLEX_BUN_PATH" not in env and "REFLEX_USE_SYSTEM_BUN" not in env:
        # the locked environment's bun (the version Reflex wants), not one on PATH
        env["REFLEX_BUN_PATH"] = str(bun)
    if build_only:
        _serve_studio(root, env, ["--port", str(port), "--build-only"])
        return
    from runtime.auth.gate import AuthRefused, is_loopback, startup_line
    from runtime.auth.users import Users

    store = open_store(env["PLAIT_DATABASE_URL"], pooler=config.database_pooler)
    try:
        store.migrate()
        users_exist = Users(store).any_active()
    finally:
        store.dispose()
    try:
        login = startup_line(config.model_copy(update={"studio_host": host}), users_exist)
    except AuthRefused as exc:
        raise fail(f"plait studio does not start: {exc}") from None
    env["PLAIT_STUDIO_HOST"] = host
    mode = "workers execute runs (Redis)" if config.redis_url else "runs execute in this process"
    exposed = "" if is_loopback(host) else " — reachable from other hosts"
    typer.echo(f"plait studio: http://{host}:{port} (listening on {host}{exposed})")
    typer.echo(login)
    typer.echo(f"store {db.display_url(env['PLAIT_DATABASE_URL'])}; {mode}")
    if not exposed:
        typer.echo("only this machine can connect; with users, --host 0.0.0.0 shares it")
    _serve_studio(root, env, ["--port", str(port), "--host", host])


def _serve_studio(root: Path, env: dict[str, str], args: list[str]) -> None:
    # in this process, not a new interpreter: the backend's workers fork from it with the
    # runtime already imported, which is a good part of a start's time
    from runtime.studio_server import main

    sys.path[:0] = [str(root), *env["PYTHONPATH"].split(os.pathsep)]
    os.environ.update(env)
    os.chdir(root)
    main(args)


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "plait"


def _subprocess_output(command: list[str]) -> str:
    import subprocess

    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from runtime.config import settings

    url = settings().resolved_database_url()
    engine = db.create_engine(url)
    db.upgrade(engine)
    typer.echo(
        f"schema at revision {db.current_revision(engine)} ({engine.url.render_as_string()})"
    )


@signing_app.command("show")
def signing_show() -> None:
    """This process's signing key, the keys it trusts, and the keys the store's versions are
    signed with. Exits 1 when some stored versions are signed with keys not trusted here."""
    from runtime.config import settings
    from runtime.keys import Keyring
    from runtime.store import open_store

    config = settings()
    try:
        keyring = Keyring.from_settings(config)
    except PlaitError as exc:
        raise fail(str(exc)) from None
    signer = keyring.signer
    if signer is not None:
        source = keyring.trusted[signer.key_id].source
        typer.echo(f"signs with   {signer.key_id}  {signer.public.text()}  (from {source})")
    elif keyring.file is not None:
        typer.echo(
            f"signs with   no key yet: one is generated into {keyring.file.path} on the first "
            "publish to a store without signed versions"
        )
    else:
        typer.echo("signs with   no key: this process holds public keys only (PLAIT_VERIFY_KEYS)")
    typer.echo("trusts")
    for key_id, trusted in keyring.trusted.items():
        typer.echo(f"  {key_id}  {trusted.key.text()}  (from {trusted.source})")
    if not keyring.trusted:
        typer.echo("  no key: this process cannot run any stored code")
    url = config.resolved_database_url()
    store = open_store(url, pooler=config.database_pooler)
    try:
        store.migrate()
        used = store.code_key_ids()
    finally:
        store.dispose()
    typer.echo(f"store {db.display_url(url)}: versions by signing key")
    unusable = 0
    for used_id, count in sorted(used.items(), key=lambda item: item[0] or ""):
        usable = used_id is not None and keyring.find(used_id) is not None
        if used_id is None:
            state = "HMAC-era: refused until `plait signing rotate` re-signs them"
        else:
            state = "trusted here" if usable else "NOT trusted here"
        unusable += 0 if usable else count
        typer.echo(f"  {used_id or '(none)':16}  {count} version(s)  {state}")
    if not used:
        typer.echo("  none")
    if unusable:
        raise fail(f"{unusable} stored version(s) cannot be verified by this process")


@signing_app.command("generate")
def signing_generate() -> None:
    """Print a new signing key and its public half as PLAIT_* lines; nothing is stored."""
    from runtime.keys import SigningKey

    key = SigningKey.generate()
    typer.echo(f"PLAIT_SIGNING_KEY={key.text()}")
    typer.echo(f"PLAIT_VERIFY_KEYS={key.public.text()}")
    typer.echo(
        f"key {key.key_id}: the signing key for publishers (callers, the studio), the verify "
        "key for every process, workers only that one",
        err=True,
    )


@signing_app.command("rotate")
def signing_rotate(
    new_key: Annotated[
        str | None,
        typer.Option(
            "--new-key",
            help="The new private key (plait-sk-...), or - to read it from stdin (keeps it "
            "out of the process list). Default: generate one.",
        ),
    ] = None,
) -> None:
    """Re-sign every stored version whose code verifies (under a trusted key, or the retired
    HMAC scheme with PLAIT_SECRET_KEY) with a new signing key, keeping the old keys trusted.
    The new key goes where the old one came from (the key file), or is printed once."""
    from runtime import rotation
    from runtime.config import settings
    from runtime.keys import Keyring, SigningKey
    from runtime.store import open_store

    config = settings()
    try:
        keyring = Keyring.from_settings(config)
        if new_key is None:
            new = SigningKey.generate()
        else:
            text = sys.stdin.readline() if new_key == "-" else new_key
            new = SigningKey.parse(text, "--new-key")
    except PlaitError as exc:
        raise fail(str(exc)) from None
    secret_key = config.existing_secret_key()
    store = open_store(config.resolved_database_url(), pooler=config.database_pooler)
    try:
        store.migrate()
        plan = rotation.plan(store, keyring, secret_key, new)
        for reason in plan.refused:
            typer.secho(f"not re-signed: {reason}", fg=typer.colors.YELLOW, err=True)
        if plan.refused and not plan.to_resign and not plan.current:
            raise fail(
                f"nothing re-signed: none of the {len(plan.refused)} stored version(s) verifies "
                "under a key this process trusts; no key was changed"
            )
        # kept before any version depends on it: a crash after this loses no key
        _keep_signing_key(keyring, new, show_private=new_key is None)
        for name in plan.legacy:
            typer.echo(f"re-signing HMAC-era {name}", err=True)
        rotation.apply(store, plan, keyring, secret_key)
    finally:
        store.dispose()
    typer.echo(
        f"re-signed {plan.resigned} version(s) with key {new.key_id}"
        + (f"; {plan.current} already were" if plan.current else "")
        + (f"; {len(plan.refused)} left as they were (above)" if plan.refused else ""),
        err=True,
    )
    if plan.refused:
        raise typer.Exit(1)


def _keep_signing_key(keyring: Keyring, new: SigningKey, *, show_private: bool) -> None:
    """Write the new key to the key file, or print it for the operator (environment keys)."""
    kept = [t.key for t in keyring.trusted.values() if t.key.key_id != new.key_id]
    old = ", ".join(k.key_id for k in kept) or "none"
    if keyring.file is not None:
        keyring.file.replace(new, kept)
        typer.echo(
            f"wrote signing key {new.key_id} to {keyring.file.path}; still trusted: {old}",
            err=True,
        )
        return
    if show_private:
        typer.echo(f"PLAIT_SIGNING_KEY={new.text()}")
    typer.echo("PLAIT_VERIFY_KEYS=" + ",".join(k.text() for k in [new.public, *kept]))
    typer.echo(
        ("the new signing key above is shown once: store it now. " if show_private else "")
        + "Set PLAIT_SIGNING_KEY on publishers (callers, the studio) and PLAIT_VERIFY_KEYS on "
        f"every process (workers: only that); it keeps the old keys ({old}) trusted",
        err=True,
    )


@app.command()
def demo() -> None:
    """Run the demo graph on the configured store and show what happened."""
    from runtime.demo import graph as demo_graph

    client = rt.default_client()
    typer.echo(f"store: {client.store.display_url}")
    handle = client.start(demo_graph, {}, trigger="cli")
    typer.echo(f"run {handle.id} started ({demo_graph.name} {demo_graph.version})")
    status = follow_run(handle)
    print_outcome(handle)
    typer.echo(f"inspect it again with: plait show {handle.id}")
    if status != "succeeded":
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except PlaitError as exc:
        # what a command could not do (a key it lacks, a store it cannot open): said plainly,
        # with a non-zero exit, never a traceback
        typer.secho(f"{type(exc).__name__}: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
