"""Roles and principals: ``admin`` (users, keys, secrets, settings), ``editor`` (build,
publish, run, answer waits, share) and ``viewer`` (read only); a ``Principal`` is who is
asking, with the role and reach they ask with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from runtime.errors import InputError, PlaitError

Role = Literal["admin", "editor", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
Need = Literal["read", "write", "admin"]
"""What an action needs: ``read`` (any role), ``write`` (editor or admin), ``admin``."""

_RANK: dict[str, int] = {"viewer": 0, "editor": 1, "admin": 2}
_ROLE_OF_NEED: dict[str, Role] = {"read": "viewer", "write": "editor", "admin": "admin"}


class Unauthenticated(PlaitError):
    """No valid credentials: a bad, expired or revoked key or session, or none at all. The
    message never says which."""


class Forbidden(PlaitError):
    """Valid credentials whose role (or workflow scope) does not allow the action."""


def check_role(role: object, what: str = "role") -> Role:
    """``role`` as a ``Role``; an ``InputError`` naming the roles otherwise."""
    if role not in ROLES:
        raise InputError(f"{what} must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def at_least(role: str, other: str) -> bool:
    """Whether ``role`` may do everything ``other`` may."""
    return _RANK.get(role, -1) >= _RANK.get(other, 99)


@dataclass(frozen=True)
class Principal:
    """Who is asking."""

    kind: Literal["user", "key", "local"]
    """A logged-in account, an API key, or the single local user of a loopback studio."""
    name: str
    """The account's or the key's name; ``local`` for the local user."""
    role: Role
    account_id: int | None = None
    key_id: str | None = None
    session_id: int | None = None
    """The login session a studio request came with."""
    workflows: tuple[str, ...] | None = None
    """A key limited to these workflows; ``None``: every workflow."""

    @property
    def actor(self) -> str:
        """How records name who did it: ``alice``, ``ci (key 3fa9c2d14b07)``, ``local``."""
        if self.kind == "key":
            return f"{self.name} (key {self.key_id})"
        return self.name

    def may(self, need: Need) -> bool:
        return at_least(self.role, _ROLE_OF_NEED[need])

    def reaches(self, workflow: str) -> bool:
        return self.workflows is None or workflow in self.workflows


LOCAL = Principal("local", "local", "admin")
"""A studio on 127.0.0.1 with no users: the one person at this machine, as before logins."""


def require(principal: Principal, need: Need, action: str) -> None:
    """Raise ``Forbidden`` unless ``principal`` may do ``action`` (a phrase: "cancel runs")."""
    if not principal.may(need):
        raise Forbidden(
            f"{principal.actor} is a {principal.role}: to {action} takes the "
            f"{_ROLE_OF_NEED[need]} role"
        )


def require_workflow(principal: Principal, workflow: str) -> None:
    """Raise ``Forbidden`` when a key limited to some workflows asks about another one."""
    if not principal.reaches(workflow):
        reach = ", ".join(principal.workflows or ())
        raise Forbidden(f"{principal.actor} may only reach the workflows {reach}")
