"""Studio login sessions, kept server-side: the browser holds a random token in an HttpOnly
cookie, the store only its SHA-256. A session ends when it is revoked (logout, a password
reset, a disabled account), idle past ``session_idle_seconds``, or older than
``session_max_seconds``."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable

import sqlalchemy as sa

from runtime.auth.roles import Principal
from runtime.auth.users import User
from runtime.store import Store, tables
from runtime.store.tables import utcnow

COOKIE = "plait_session"
TOUCH_EVERY = dt.timedelta(seconds=60)
"""How stale ``last_seen_at`` may get before a request writes it again (one write a minute
per session, not one per request)."""

Clock = Callable[[], dt.datetime]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """The login sessions of one store."""

    def __init__(
        self, store: Store, *, idle_seconds: float, max_seconds: float, clock: Clock = utcnow
    ) -> None:
        self.store = store
        self.idle = dt.timedelta(seconds=idle_seconds)
        self.max = dt.timedelta(seconds=max_seconds)
        self.clock = clock

    def create(self, user: User, *, address: str | None, user_agent: str | None) -> str:
        """A new session for ``user``; returns its token (the cookie's value). Sessions that
        can no longer be used (expired, idle, revoked) are deleted in the same transaction, so
        the table holds live sessions only, however many logins there were."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        s = tables.login_session
        with self.store.write() as conn:
            conn.execute(
                sa.delete(s).where(
                    (s.c.expires_at <= now)
                    | (s.c.last_seen_at <= now - self.idle)
                    | s.c.revoked_at.is_not(None)
                )
            )
            conn.execute(
                sa.insert(tables.login_session).values(
                    token_hash=token_hash(token),
                    account_id=user.id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.max,
                    address=(address or "")[:64] or None,
                    user_agent=(user_agent or "")[:300] or None,
                )
            )
        return token

    def resolve(self, token: str | None) -> Principal | None:
        """Who a session token belongs to, or ``None``: unknown, revoked, idle, expired, or
        its account disabled, alike."""
        if not token or len(token) > 200:
            return None
        s, a = tables.login_session, tables.account
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(
                    s.c.id,
                    s.c.last_seen_at,
                    s.c.expires_at,
                    s.c.revoked_at,
                    a.c.id.label("account_id"),
                    a.c.name,
                    a.c.role,
                    a.c.disabled_at,
                )
                .join(a, a.c.id == s.c.account_id)
                .where(s.c.token_hash == token_hash(token))
            ).first()
        now = self.clock()
        if (
            row is None
            or row.revoked_at is not None
            or row.disabled_at is not None
            or _utc(row.expires_at) <= now
            or _utc(row.last_seen_at) + self.idle <= now
        ):
            return None
        if now - _utc(row.last_seen_at) >= TOUCH_EVERY:
            with self.store.write() as conn:
                conn.execute(sa.update(s).where(s.c.id == row.id).values(last_seen_at=now))
        return Principal("user", row.name, row.role, account_id=row.account_id, session_id=row.id)

    def revoke(self, token: str) -> bool:
        """End the session of ``token``; whether one was active."""
        s = tables.login_session
        with self.store.write() as conn:
            changed = conn.execute(
                sa.update(s)
                .where(s.c.token_hash == token_hash(token), s.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            ).rowcount
        return bool(changed)

    def revoke_account(self, account_id: int) -> int:
        """End every session of an account; how many were active."""
        s = tables.login_session
        with self.store.write() as conn:
            return conn.execute(
                sa.update(s)
                .where(s.c.account_id == account_id, s.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            ).rowcount


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
