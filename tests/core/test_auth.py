"""Accounts, passwords, sessions, API keys, login limits and the gate, on SQLite and
PostgreSQL; time comes from a controllable clock."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

import runtime as rt
from runtime.auth.apikeys import ApiKeys, parse
from runtime.auth.gate import AuthRefused, Gate, startup_line
from runtime.auth.ratelimit import LoginLimiter
from runtime.auth.roles import LOCAL, Forbidden, require
from runtime.auth.sessions import Sessions
from runtime.auth.users import Users
from runtime.config import Settings
from runtime.errors import InputError, NotFound
from runtime.store import tables

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def test_accounts_store_only_an_argon2_hash_and_check_every_input(client: rt.Client) -> None:
    users = Users(client.store)
    alice = users.add("alice", "admin", PASSWORD, by="cli:root")
    assert (alice.name, alice.role, alice.active, alice.created_by) == (
        "alice",
        "admin",
        True,
        "cli:root",
    )
    with client.store.read() as conn:
        stored = conn.execute(sa.select(tables.account.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert users.authenticate("alice", PASSWORD) == alice
    assert users.authenticate("alice", "wrong password!") is None
    assert users.authenticate("nobody", PASSWORD) is None
    for name, role, password, says in [
        ("Alice", "admin", PASSWORD, "lower-case"),
        ("bob", "owner", PASSWORD, "role must be one of admin, editor, viewer"),
        ("bob", "viewer", "short", "at least 10 characters"),
        ("bob", "viewer", "ten chars\x00!", "NUL"),
        ("alice", "viewer", PASSWORD, "exists already"),
    ]:
        with pytest.raises(InputError, match=says):
            users.add(name, role, password)
    assert [u.name for u in users.list()] == ["alice"]


def test_the_last_admin_stays_and_disabling_ends_sessions_and_keys(client: rt.Client) -> None:
    users = Users(client.store)
    users.add("alice", "admin", PASSWORD)
    with pytest.raises(InputError, match="last active admin"):
        users.set_role("alice", "viewer")
    with pytest.raises(InputError, match="last active admin"):
        users.disable("alice")
    bob = users.add("bob", "editor", PASSWORD)
    sessions = Sessions(client.store, idle_seconds=3600, max_seconds=86400)
    token = sessions.create(bob, address="10.0.0.1", user_agent="test")
    keys = ApiKeys(client.store)
    key, _ = keys.create("bob's ci", "editor", by="bob")
    assert sessions.resolve(token) is not None and keys.authenticate(key) is not None
    users.disable("bob")
    assert users.authenticate("bob", PASSWORD) is None
    assert sessions.resolve(token) is None and keys.authenticate(key) is None
    users.enable("bob")
    assert users.authenticate("bob", PASSWORD) is not None
    assert sessions.resolve(token) is None  # ended for good


def test_sessions_end_when_idle_when_old_and_when_revoked(client: rt.Client) -> None:
    clock = Clock()
    alice = Users(client.store).add("alice", "editor", PASSWORD)
    sessions = Sessions(client.store, idle_seconds=600, max_seconds=3600, clock=clock)
    token = sessions.create(alice, address="127.0.0.1", user_agent=None)
    with client.store.read() as conn:
        assert conn.execute(sa.select(tables.login_session.c.token_hash)).scalar_one() != token
    found = sessions.resolve(token)
    assert found is not None and (found.actor, found.role) == ("alice", "editor")
    for _ in range(5):  # used every 9 minutes: never idle, until the absolute end
        clock.advance(minutes=9)
        assert sessions.resolve(token) is not None
    clock.advance(minutes=16)
    assert sessions.resolve(token) is None, "older than session_max_seconds"
    idle = sessions.create(alice, address=None, user_agent=None)
    clock.advance(minutes=10)
    assert sessions.resolve(idle) is None, "idle past session_idle_seconds"
    revoked = sessions.create(alice, address=None, user_agent=None)
    assert sessions.revoke(revoked) and sessions.resolve(revoked) is None
    assert sessions.resolve("made-up") is None and sessions.resolve("") is None
    reset = sessions.create(alice, address=None, user_agent=None)
    Users(client.store).reset_password("alice", "another long password")
    assert sessions.resolve(reset) is None
    sessions.create(alice, address=None, user_agent=None)
    with client.store.read() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(tables.login_session))
        assert rows.scalar_one() == 1, "dead sessions are deleted as new ones begin"


def test_api_key_life_cycle(client: rt.Client) -> None:
    clock = Clock()
    keys = ApiKeys(client.store, clock=clock)
    token, key = keys.create(
        "ci", "editor", workflows=["billing"], expires_in=dt.timedelta(days=90), by="alice"
    )
    key_id, secret = parse(token)  # type: ignore[misc]
    assert key_id == key.id and token.startswith("plait_")
    with client.store.read() as conn:
        row = conn.execute(sa.select(tables.api_key)).one()
    assert secret not in repr(row) and row.secret_hash != secret
    found = keys.authenticate(token)
    assert found is not None
    assert (found.actor, found.role, found.workflows) == (
        f"ci (key {key.id})",
        "editor",
        ("billing",),
    )
    assert found.reaches("billing") and not found.reaches("payroll")
    assert keys.get(key.id).last_used_at == clock.now
    for bad in [token[:-1] + ("A" if token[-1] != "A" else "B"), "plait_x", "", token + "x"]:
        assert keys.authenticate(bad) is None
    clock.advance(days=91)
    assert keys.authenticate(token) is None and keys.get(key.id).state(clock.now) == "expired"
    other, info = keys.create("viewer", "viewer", by="alice")
    keys.revoke(info.id)
    assert keys.authenticate(other) is None and keys.get(info.id).state() == "revoked"
    with pytest.raises(NotFound):
        keys.revoke(info.id)
    with pytest.raises(InputError, match="role must be one of"):
        keys.create("x", "root", by=None)
    with pytest.raises(InputError, match="1 to 100 characters"):
        keys.create(" ", "viewer", by=None)


def test_login_limits_count_failures_per_account_and_address() -> None:
    limiter = LoginLimiter("3 per 15 minutes", "5 per 15 minutes")
    for _ in range(3):
        assert limiter.allowed("alice", "10.0.0.1")
        limiter.failed("alice", "10.0.0.1")
    assert not limiter.allowed("alice", "10.0.0.2"), "the account is locked from anywhere"
    assert limiter.allowed("bob", "10.0.0.1")
    limiter.failed("bob", "10.0.0.1")
    limiter.failed("carol", "10.0.0.1")
    assert not limiter.allowed("dave", "10.0.0.1"), "the address is locked for any account"
    assert limiter.allowed("dave", "10.0.0.3")


def test_the_gate_runs_locally_only_on_loopback_without_users(client: rt.Client) -> None:
    loopback = Settings(studio_host="127.0.0.1")
    network = Settings(studio_host="0.0.0.0")
    assert "single local user" in startup_line(loopback, users_exist=False)
    with pytest.raises(AuthRefused, match="plait users add NAME --role admin"):
        startup_line(network, users_exist=False)
    with pytest.raises(AuthRefused, match="PLAIT_AUTH=off"):
        startup_line(Settings(studio_host="0.0.0.0", auth="off"), users_exist=True)
    with pytest.raises(AuthRefused, match="no users yet"):
        startup_line(Settings(auth="on"), users_exist=False)
    assert "login required" in startup_line(network, users_exist=True)

    gate = Gate(lambda: client.store, loopback)
    assert gate.principal() == LOCAL
    assert gate.principal(authorization="Bearer plait_bad") is None, "a bad key is nobody"
    Users(client.store).add("alice", "admin", PASSWORD)
    gate.forget_users()
    assert gate.principal() is None and gate.login_required()
    assert Gate(lambda: client.store, network).principal() is None


def test_roles() -> None:
    from runtime.auth.roles import Principal

    viewer = Principal("user", "vic", "viewer")
    editor = Principal("user", "eve", "editor")
    require(viewer, "read", "read runs")
    require(editor, "write", "cancel runs")
    with pytest.raises(Forbidden, match="vic is a viewer: to cancel runs takes the editor role"):
        require(viewer, "write", "cancel runs")
    with pytest.raises(Forbidden, match="admin role"):
        require(editor, "admin", "manage users")


@pytest.mark.parametrize(
    ("base_url", "headers", "public_url", "secure"),
    [
        ("http://testserver", {}, None, False),
        ("https://testserver", {}, None, True),
        # behind a proxy that ends TLS and speaks plain HTTP to the studio
        ("http://testserver", {"x-forwarded-proto": "https"}, None, True),
        ("http://testserver", {}, "https://plait.example.com", True),
        ("http://testserver", {}, "http://plait.example.com", False),
    ],
)
def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
    client: rt.Client,
    base_url: str,
    headers: dict[str, str],
    public_url: str | None,
    secure: bool,
) -> None:
    from starlette.testclient import TestClient

    from runtime.auth.sessions import COOKIE
    from runtime.login import login_app

    Users(client.store).add("alice", "admin", PASSWORD)
    gate = Gate(lambda: client.store, Settings(studio_host="127.0.0.1", public_url=public_url))
    with TestClient(login_app(lambda: gate), base_url=base_url) as http:
        answer = http.post(
            "/auth/login",
            data={"name": "alice", "password": PASSWORD},
            headers=headers,
            follow_redirects=False,
        )
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert cookie.startswith(f"{COOKIE}=") and "httponly" in attributes
    assert "samesite=lax" in cookie.lower().replace(" ", "")
    assert ("secure" in attributes) is secure, cookie
