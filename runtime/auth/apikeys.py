"""API keys for ``/api/v1``: ``Authorization: Bearer plait_<id>_<secret>``. The id names the
key (lists, who-did-it); the store keeps only the SHA-256 of the secret (256 random bits, so a
fast hash is enough, and no password hash sits on the per-request path). A key has a role, an
optional list of the workflows it reaches, an optional expiry, and can be revoked."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from runtime.auth.roles import Principal, Role, check_role
from runtime.errors import InputError, NotFound
from runtime.store import Store, tables
from runtime.store.tables import utcnow

PREFIX = "plait_"
_TOKEN = re.compile(r"plait_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
TOUCH_EVERY = dt.timedelta(seconds=60)
"""How stale ``last_used_at`` may get before a request writes it again."""
MAX_NAME = 100

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class KeyInfo:
    """A key as lists show it (never its secret, which is not stored)."""

    id: str
    name: str
    role: Role
    workflows: tuple[str, ...] | None
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def state(self, now: dt.datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"


def _info(row: sa.Row) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.name,
        row.role,
        tuple(row.workflows) if row.workflows is not None else None,
        row.created_by,
        _utc(row.created_at) or row.created_at,
        _utc(row.expires_at),
        _utc(row.revoked_at),
        _utc(row.last_used_at),
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed token, else ``None``."""
    match = _TOKEN.fullmatch(token.strip()) if isinstance(token, str) else None
    return (match[1], match[2]) if match else None


def check_key_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InputError(f"a key's name is 1 to {MAX_NAME} characters, not {name!r}")
    if any(ord(c) < 32 for c in name):
        raise InputError("a key's name must not contain control characters")
    return name.strip()


class ApiKeys:
    """The API keys of one store."""

    def __init__(self, store: Store, *, clock: Clock = utcnow) -> None:
        self.store = store
        self.clock = clock

    def create(
        self,
        name: str,
        role: str,
        *,
        workflows: Sequence[str] | None = None,
        expires_in: dt.timedelta | None = None,
        by: str | None,
    ) -> tuple[str, KeyInfo]:
        """A new key; returns its token (shown once: only its hash is kept) and its info."""
        name = check_key_name(name)
        check_role(role, "a key's role")
        scope = None
        if workflows is not None:
            scope = sorted({w.strip() for w in workflows if isinstance(w, str) and w.strip()})
            if (
                not scope
                or len(scope) != len([w for w in workflows if w.strip()])
                or any(len(w) > 200 for w in scope)
            ):
                raise InputError(
                    "a key's workflows are a list of distinct workflow names (or none: all)"
                )
        if expires_in is not None and expires_in <= dt.timedelta(0):
            raise InputError("a key's lifetime must be positive")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.write() as conn:
            conn.execute(
                sa.insert(tables.api_key).values(
                    id=key_id,
                    secret_hash=_digest(secret),
                    name=name,
                    role=role,
                    workflows=scope,
                    created_by=by,
                    created_at=now,
                    expires_at=now + expires_in if expires_in else None,
                )
            )
        return f"{PREFIX}{key_id}_{secret}", self.get(key_id)

    def get(self, key_id: str) -> KeyInfo:
        k = tables.api_key
        with self.store.read() as conn:
            row = conn.execute(sa.select(k).where(k.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"no API key with id {key_id!r}")
        return _info(row)

    def list(self) -> list[KeyInfo]:
        k = tables.api_key
        with self.store.read() as conn:
            rows = conn.execute(sa.select(k).order_by(k.c.created_at.desc(), k.c.id)).all()
        return [_info(r) for r in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke for good; ``NotFound`` when no active key has that id."""
        k = tables.api_key
        with self.store.write() as conn:
            changed = conn.execute(
                sa.update(k)
                .where(k.c.id == key_id, k.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            ).rowcount
        if not changed:
            raise NotFound(f"no active API key with id {key_id!r}")
        return self.get(key_id)

    def authenticate(self, token: str) -> Principal | None:
        """The key's principal, or ``None`` for a malformed, unknown, wrong, expired or
        revoked token alike. One primary-key read (and a write at most once a minute)."""
        parsed = parse(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        k = tables.api_key
        with self.store.read() as conn:
            row = conn.execute(sa.select(k).where(k.c.id == key_id)).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
            return None
        now = self.clock()
        expires = _utc(row.expires_at)
        if row.revoked_at is not None or (expires is not None and expires <= now):
            return None
        last = _utc(row.last_used_at)
        if last is None or now - last >= TOUCH_EVERY:
            with self.store.write() as conn:
                conn.execute(sa.update(k).where(k.c.id == key_id).values(last_used_at=now))
        workflows = tuple(row.workflows) if row.workflows is not None else None
        return Principal("key", row.name, row.role, key_id=key_id, workflows=workflows)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
