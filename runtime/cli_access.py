"""``plait users``, ``plait keys`` and ``plait secrets``: accounts, API keys and encrypted
secrets of the configured store, for the operator on the server's side (each change goes to
the audit log as ``cli:<os user>``, and so does each refusal)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from runtime import audit
from runtime.cli_common import configured_store, refused
from runtime.errors import PlaitError

if TYPE_CHECKING:
    from runtime import secrets

users_app = typer.Typer(help="Studio accounts: add, list, set-role, disable, reset-password.")
keys_app = typer.Typer(help="API keys for /api/v1: create, list, revoke.")
secrets_app = typer.Typer(help="Encrypted secrets for nodes: set, list, delete, rotate.")
for _sub in (users_app, keys_app, secrets_app):
    _sub.info.no_args_is_help = True


def _read_secret_text(prompt: str, from_stdin: bool, *, confirm: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        text = sys.stdin.readline() if from_stdin else sys.stdin.read()
        return text.rstrip("\r\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def _when(value: object) -> str:
    import datetime as dt

    if not isinstance(value, dt.datetime):
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


# -- users -----------------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="admin, editor or viewer.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Add an account; the password comes from a prompt (or stdin). No default password."""
    from runtime.auth.users import Users, check_name

    store = configured_store()
    try:
        check_name(name)
        password = _read_secret_text("password", password_stdin, confirm=True)
        user = Users(store).add(name, role, password, by=audit.cli_actor())
    except PlaitError as exc:
        raise refused(store, "user.add", exc, target=name, role=role) from None
    audit.record(store, "user.add", actor=audit.cli_actor(), target=name, detail={"role": role})
    typer.echo(f"added {user.role} {user.name}")


@users_app.command("list")
def users_list() -> None:
    """Every account: name, role, state, when made and by whom."""
    from runtime.auth.users import Users

    found = Users(configured_store()).list()
    if not found:
        typer.echo("no users: the studio runs as the single local user on 127.0.0.1")
        return
    typer.echo(f"{'NAME':24}  {'ROLE':7}  {'STATE':8}  {'CREATED':16}  BY")
    for u in found:
        state = "active" if u.active else "disabled"
        typer.echo(
            f"{u.name:24}  {u.role:7}  {state:8}  {_when(u.created_at):16}  {u.created_by or '-'}"
        )


@users_app.command("set-role")
def users_set_role(name: str, role: str) -> None:
    """Change an account's role (the last active admin stays one)."""
    from runtime.auth.users import Users

    store = configured_store()
    try:
        user = Users(store).set_role(name, role)
    except PlaitError as exc:
        raise refused(store, "user.set_role", exc, target=name, role=role) from None
    audit.record(
        store, "user.set_role", actor=audit.cli_actor(), target=name, detail={"role": role}
    )
    typer.echo(f"{user.name} is now {user.role}")


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable an account: it cannot log in, its sessions end, the keys it made are revoked."""
    from runtime.auth.users import Users

    store = configured_store()
    try:
        Users(store).disable(name)
    except PlaitError as exc:
        raise refused(store, "user.disable", exc, target=name) from None
    audit.record(store, "user.disable", actor=audit.cli_actor(), target=name)
    typer.echo(f"disabled {name}")


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Let a disabled account log in again (its old sessions and keys stay ended)."""
    from runtime.auth.users import Users

    store = configured_store()
    try:
        Users(store).enable(name)
    except PlaitError as exc:
        raise refused(store, "user.enable", exc, target=name) from None
    audit.record(store, "user.enable", actor=audit.cli_actor(), target=name)
    typer.echo(f"enabled {name}")


@users_app.command("reset-password")
def users_reset_password(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Set a new password (from a prompt or stdin); the account's sessions end."""
    from runtime.auth.users import Users

    store = configured_store()
    try:
        users = Users(store)
        users.get(name)
        users.reset_password(name, _read_secret_text("new password", password_stdin, confirm=True))
    except PlaitError as exc:
        raise refused(store, "user.reset_password", exc, target=name) from None
    audit.record(store, "user.reset_password", actor=audit.cli_actor(), target=name)
    typer.echo(f"new password set for {name}; its sessions ended")


# -- API keys --------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for (shown in lists and records).")],
    role: Annotated[str, typer.Option(help="admin, editor or viewer.")] = "viewer",
    expires: Annotated[
        str, typer.Option(help="Lifetime such as 90d, 12h or 30m; never = until revoked.")
    ] = "90d",
    workflow: Annotated[
        list[str] | None, typer.Option(help="Limit the key to this workflow (repeatable).")
    ] = None,
) -> None:
    """Create an API key and print its token once (only a hash of it is stored)."""
    from runtime.api_admin import parse_expiry
    from runtime.auth.apikeys import ApiKeys

    store = configured_store()
    try:
        token, key = ApiKeys(store).create(
            name, role, workflows=workflow, expires_in=parse_expiry(expires), by=audit.cli_actor()
        )
    except PlaitError as exc:
        raise refused(store, "key.create", exc, target=name, role=role) from None
    audit.record(
        store, "key.create", actor=audit.cli_actor(), target=key.id, detail={"role": key.role}
    )
    typer.echo(token)
    until = _when(key.expires_at) if key.expires_at else "until revoked"
    reach = ", ".join(key.workflows) if key.workflows else "every workflow"
    typer.echo(
        f"key {key.id} ({key.name}, {key.role}, {reach}, {until}): the token above is shown "
        "once; use it as PLAIT_API_KEY or 'Authorization: Bearer <token>'",
        err=True,
    )


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, name, role, state, workflows, expiry, last use (never a secret)."""
    from runtime.auth.apikeys import ApiKeys

    found = ApiKeys(configured_store()).list()
    if not found:
        typer.echo("no API keys")
        return
    typer.echo(
        f"{'ID':12}  {'NAME':20}  {'ROLE':7}  {'STATE':8}  {'EXPIRES':16}  {'LAST USED':16}  "
        "WORKFLOWS"
    )
    for k in found:
        typer.echo(
            f"{k.id:12}  {k.name[:20]:20}  {k.role:7}  {k.state():8}  "
            f"{_when(k.expires_at):16}  {_when(k.last_used_at):16}  "
            f"{', '.join(k.workflows) if k.workflows else 'all'}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key for good."""
    from runtime.auth.apikeys import ApiKeys

    store = configured_store()
    try:
        ApiKeys(store).revoke(key_id)
    except PlaitError as exc:
        raise refused(store, "key.revoke", exc, target=key_id) from None
    audit.record(store, "key.revoke", actor=audit.cli_actor(), target=key_id)
    typer.echo(f"revoked key {key_id}")


# -- secrets ---------------------------------------------------------------------------------


def _secrets() -> secrets.Secrets:
    from runtime import secrets
    from runtime.config import settings

    return secrets.Secrets(configured_store(), settings())


@secrets_app.command("set")
def secrets_set(
    name: str,
    value_stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the value from stdin (also when piped).")
    ] = False,
) -> None:
    """Store or replace a secret; the value comes from a prompt or stdin, never an argument."""
    from runtime.secrets import check_name

    box = _secrets()
    try:
        check_name(name)
        created = box.set(
            name, _read_secret_text("value", value_stdin, confirm=False), by=audit.cli_actor()
        )
    except PlaitError as exc:
        raise refused(box.store, "secret.set", exc, target=name) from None
    action = "secret.create" if created else "secret.replace"
    audit.record(box.store, action, actor=audit.cli_actor(), target=name)
    typer.echo(f"{'stored' if created else 'replaced'} secret {name}")


@secrets_app.command("list")
def secrets_list() -> None:
    """Names, who set them and when: never values."""
    found = _secrets().list()
    if not found:
        typer.echo("no secrets")
        return
    typer.echo(f"{'NAME':32}  {'UPDATED':16}  {'BY':24}  CREATED")
    for s in found:
        typer.echo(
            f"{s.name:32}  {_when(s.updated_at):16}  {(s.updated_by or '-')[:24]:24}  "
            f"{_when(s.created_at)}"
        )


@secrets_app.command("delete")
def secrets_delete(name: str) -> None:
    box = _secrets()
    try:
        box.delete(name)
    except PlaitError as exc:
        raise refused(box.store, "secret.delete", exc, target=name) from None
    audit.record(box.store, "secret.delete", actor=audit.cli_actor(), target=name)
    typer.echo(f"deleted secret {name}")


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every secret with the newest key. With the key file, a new key is made
    first (the old ones stay in the file, for values not yet rotated); with
    PLAIT_ENCRYPTION_KEY, put the new key first there (`plait secrets generate-key`) and keep
    the old ones after it until this has run everywhere."""
    box = _secrets()
    try:
        made = box.keys.prepend_new()
        count = box.rotate()
    except PlaitError as exc:
        raise refused(box.store, "secret.rotate", exc) from None
    audit.record(box.store, "secret.rotate", actor=audit.cli_actor(), detail={"count": count})
    where = f"a new key in {box.keys.file}" if made else "the first key of PLAIT_ENCRYPTION_KEY"
    typer.echo(f"re-encrypted {count} secret(s) with {where}")


@secrets_app.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new encryption key as a PLAIT_ENCRYPTION_KEY line; nothing is stored."""
    from runtime.secrets import generate_key

    typer.echo(f"PLAIT_ENCRYPTION_KEY={generate_key()}")
