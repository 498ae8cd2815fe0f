"""Accounts: a name, a role and an argon2 password hash. There is no default account and no
default password: the first admin is made with ``plait users add NAME --role admin``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa

from runtime.auth import passwords
from runtime.auth.roles import Role, check_role
from runtime.errors import InputError, NotFound
from runtime.store import Store, tables
from runtime.store.tables import utcnow

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""Account names: lower-case letters, digits, ``.``, ``_`` and ``-``, at most 64."""


def check_name(name: object) -> str:
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise InputError(
            f"user name {name!r}: use 1 to 64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class User:
    """An account as lists show it (never its hash)."""

    id: int
    name: str
    role: Role
    created_at: dt.datetime
    created_by: str | None
    password_changed_at: dt.datetime
    disabled_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _user(row: sa.Row) -> User:
    return User(
        row.id,
        row.name,
        row.role,
        row.created_at,
        row.created_by,
        row.password_changed_at,
        row.disabled_at,
    )


_COLUMNS = [c for c in tables.account.c if c.name != "password_hash"]


class Users:
    """The accounts of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, name: str, role: str, password: str, *, by: str | None = None) -> User:
        """A new account; an ``InputError`` when the name is taken or anything is invalid."""
        check_name(name)
        check_role(role)
        hashed = passwords.hash_password(password)
        a = tables.account
        now = utcnow()
        with self.store.write() as conn:
            if conn.execute(sa.select(a.c.id).where(a.c.name == name)).first() is not None:
                raise InputError(f"user {name!r} exists already")
            conn.execute(
                sa.insert(a).values(
                    name=name,
                    role=role,
                    password_hash=hashed,
                    created_at=now,
                    created_by=by,
                    password_changed_at=now,
                )
            )
        return self.get(name)

    def get(self, name: str) -> User:
        a = tables.account
        with self.store.read() as conn:
            row = conn.execute(sa.select(*_COLUMNS).where(a.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user named {name!r}")
        return _user(row)

    def list(self) -> list[User]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(*_COLUMNS).order_by(tables.account.c.name)).all()
        return [_user(r) for r in rows]

    def any_active(self) -> bool:
        a = tables.account
        with self.store.read() as conn:
            query = sa.select(a.c.id).where(a.c.disabled_at.is_(None)).limit(1)
            return conn.execute(query).first() is not None

    def set_role(self, name: str, role: str) -> User:
        """Change a role; the last active admin cannot be demoted."""
        check_role(role)
        with self.store.write() as conn:
            user = self._locked(conn, name)
            if user.role == "admin" and role != "admin" and user.active:
                self._keep_an_admin(conn, name, "demote")
            conn.execute(
                sa.update(tables.account).where(tables.account.c.id == user.id).values(role=role)
            )
        return self.get(name)

    def disable(self, name: str) -> User:
        """Disable an account: it can no longer log in, and its sessions and the keys it
        created stop working. The last active admin cannot be disabled."""
        now = utcnow()
        with self.store.write() as conn:
            user = self._locked(conn, name)
            if user.active:
                if user.role == "admin":
                    self._keep_an_admin(conn, name, "disable")
                a, s, k = tables.account, tables.login_session, tables.api_key
                conn.execute(sa.update(a).where(a.c.id == user.id).values(disabled_at=now))
                conn.execute(
                    sa.update(s)
                    .where(s.c.account_id == user.id, s.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                conn.execute(
                    sa.update(k)
                    .where(k.c.created_by == name, k.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
        return self.get(name)

    def enable(self, name: str) -> User:
        with self.store.write() as conn:
            user = self._locked(conn, name)
            a = tables.account
            conn.execute(sa.update(a).where(a.c.id == user.id).values(disabled_at=None))
        return self.get(name)

    def reset_password(self, name: str, password: str) -> User:
        """A new password; every session of the account ends (keys stay)."""
        hashed = passwords.hash_password(password)
        now = utcnow()
        with self.store.write() as conn:
            user = self._locked(conn, name)
            a, s = tables.account, tables.login_session
            conn.execute(
                sa.update(a)
                .where(a.c.id == user.id)
                .values(password_hash=hashed, password_changed_at=now)
            )
            conn.execute(
                sa.update(s)
                .where(s.c.account_id == user.id, s.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return self.get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The account if ``password`` is its password and it is active; ``None`` for a wrong
        password, an unknown name and a disabled account alike (each costs one argon2
        verification, so none answers faster)."""
        a = tables.account
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(*_COLUMNS, a.c.password_hash).where(a.c.name == name)
            ).first()
        if row is None:
            passwords.burn()
            return None
        if not passwords.verify(row.password_hash, password) or row.disabled_at is not None:
            return None
        if passwords.needs_rehash(row.password_hash):
            with self.store.write() as conn:
                conn.execute(
                    sa.update(a)
                    .where(a.c.id == row.id)
                    .values(password_hash=passwords.hash_password(password))
                )
        return _user(row)

    # -- helpers ---------------------------------------------------------------------------

    def _locked(self, conn: sa.Connection, name: str) -> User:
        a = tables.account
        query = self.store.for_update(sa.select(*_COLUMNS).where(a.c.name == name))
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no user named {name!r}")
        return _user(row)

    @staticmethod
    def _keep_an_admin(conn: sa.Connection, name: str, verb: str) -> None:
        a = tables.account
        others = conn.execute(
            sa.select(sa.func.count())
            .select_from(a)
            .where(a.c.role == "admin", a.c.disabled_at.is_(None), a.c.name != name)
        ).scalar_one()
        if not others:
            raise InputError(
                f"cannot {verb} {name!r}: it is the last active admin (make another admin first)"
            )
