"""The REST API's admin operations: users, API keys, secrets (write-only values) and the
audit log; and ``/me`` for anyone. Everything the studio's settings pages do."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import fastapi
from fastapi import Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from runtime import audit, secrets, sharing
from runtime.api import Text
from runtime.api_auth import note, role_dependency
from runtime.api_errors import responses
from runtime.auth.apikeys import KeyInfo
from runtime.auth.gate import Gate
from runtime.auth.roles import Principal, Role
from runtime.auth.users import User
from runtime.config import settings
from runtime.errors import InputError

MAX_INT = 2**31 - 1


class MeOut(BaseModel):
    kind: str = Field(description="user, key or local")
    name: str
    role: Role
    actor: str = Field(description="How records name this caller.")
    workflows: list[str] | None = Field(description="A key's workflows; null: all.")


class UserOut(BaseModel):
    name: str
    role: Role
    active: bool
    created_at: dt.datetime
    created_by: str | None
    password_changed_at: dt.datetime
    disabled_at: dt.datetime | None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(max_length=64, description="Lower-case letters, digits, '.', '_', '-'.")
    role: Role
    password: Text = Field(max_length=1024, description="At least 10 characters.")


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = Field(None, description="false disables the account.")


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Text = Field(max_length=1024)


class KeyOut(BaseModel):
    id: str
    name: str
    role: Role
    workflows: list[str] | None
    state: str = Field(description="active, revoked or expired")
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class KeyCreated(KeyOut):
    token: str = Field(description="plait_<id>_<secret>: shown here once, stored only hashed.")


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(max_length=100)
    role: Role
    workflows: list[Annotated[Text, Field(max_length=200)]] | None = Field(
        None, max_length=100, description="Only these workflows; null: all."
    )
    expires: Text = Field(
        "", max_length=20, description="A lifetime such as 90d or 12h; empty or never: none."
    )


class SecretOut(BaseModel):
    name: str
    created_at: dt.datetime
    created_by: str | None
    updated_at: dt.datetime
    updated_by: str | None


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Text = Field(max_length=secrets.MAX_VALUE, description="Write-only: never read back.")


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str | None
    action: str
    target: str | None
    address: str | None
    outcome: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditOut]
    total: int
    limit: int
    offset: int


def user_out(user: User) -> UserOut:
    return UserOut(
        name=user.name,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
        created_by=user.created_by,
        password_changed_at=user.password_changed_at,
        disabled_at=user.disabled_at,
    )


def key_out(key: KeyInfo) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "workflows": list(key.workflows) if key.workflows is not None else None,
        "state": key.state(),
        "created_by": key.created_by,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
    }


UserName = Annotated[Text, Path(max_length=64)]
SecretName = Annotated[Text, Path(max_length=100)]


def admin_router(
    prefix: str, gate: Callable[[], Gate], principal: Callable[..., Any]
) -> fastapi.APIRouter:
    router = fastapi.APIRouter(prefix=prefix, responses=responses(401, 403, 422, 429))
    admin = role_dependency(principal, "admin", "manage users, keys and secrets")
    anyone = fastapi.Depends(principal)

    @router.get("/me", response_model=MeOut, tags=["access"])
    def me(*, who: Principal = anyone) -> MeOut:
        """Who the credentials belong to, and their role."""
        return MeOut(
            kind=who.kind,
            name=who.name,
            role=who.role,
            actor=who.actor,
            workflows=list(who.workflows) if who.workflows is not None else None,
        )

    # -- users ----------------------------------------------------------------------------

    @router.get("/users", response_model=list[UserOut], tags=["access"])
    def list_users(*, who: Principal = admin) -> list[UserOut]:
        return [user_out(u) for u in gate().users.list()]

    @router.post(
        "/users",
        response_model=UserOut,
        status_code=status.HTTP_201_CREATED,
        tags=["access"],
        responses=responses(400, 413),
    )
    def add_user(*, body: UserIn, who: Principal = admin, request: Request) -> UserOut:
        """A new account (the first login of a new person)."""
        user = gate().users.add(body.name, body.role, body.password, by=who.actor)
        gate().forget_users()
        note(request, "user.add", body.name, role=body.role)
        return user_out(user)

    @router.patch(
        "/users/{name}", response_model=UserOut, tags=["access"], responses=responses(400, 404, 413)
    )
    def change_user(
        *, name: UserName, body: UserChange, who: Principal = admin, request: Request
    ) -> UserOut:
        """Change a role, or disable (``active: false``: its sessions end and the keys it
        created are revoked) or enable an account. The last active admin stays one."""
        users = gate().users
        user = users.get(name)
        if body.role is not None and body.role != user.role:
            user = users.set_role(name, body.role)
            note(request, "user.set_role", name, role=body.role)
        if body.active is False and user.active:
            user = users.disable(name)
            note(request, "user.disable", name)
        elif body.active is True and not user.active:
            user = users.enable(name)
            note(request, "user.enable", name)
        gate().forget_users()
        return user_out(user)

    @router.post(
        "/users/{name}/password",
        response_model=UserOut,
        tags=["access"],
        responses=responses(400, 404, 413),
    )
    def reset_password(
        *, name: UserName, body: PasswordIn, who: Principal = admin, request: Request
    ) -> UserOut:
        """A new password; the account's sessions end."""
        user = gate().users.reset_password(name, body.password)
        note(request, "user.reset_password", name)
        return user_out(user)

    # -- API keys -------------------------------------------------------------------------

    @router.get("/keys", response_model=list[KeyOut], tags=["access"])
    def list_keys(*, who: Principal = admin) -> list[KeyOut]:
        return [KeyOut(**key_out(k)) for k in gate().keys.list()]

    @router.post(
        "/keys",
        response_model=KeyCreated,
        status_code=status.HTTP_201_CREATED,
        tags=["access"],
        responses=responses(400, 413),
    )
    def create_key(*, body: KeyIn, who: Principal = admin, request: Request) -> KeyCreated:
        """A new key; its token is in this answer only."""
        lifetime = parse_expiry(body.expires)
        token, key = gate().keys.create(
            body.name, body.role, workflows=body.workflows, expires_in=lifetime, by=who.actor
        )
        note(request, "key.create", key.id, name=key.name, role=key.role)
        return KeyCreated(**key_out(key), token=token)

    @router.delete(
        "/keys/{key_id}", response_model=KeyOut, tags=["access"], responses=responses(404)
    )
    def revoke_key(
        *, key_id: Annotated[Text, Path(max_length=16)], who: Principal = admin, request: Request
    ) -> KeyOut:
        """Revoke a key for good: its next request gets 401."""
        key = gate().keys.revoke(key_id)
        note(request, "key.revoke", key_id, name=key.name)
        return KeyOut(**key_out(key))

    # -- secrets --------------------------------------------------------------------------

    def secret_store() -> secrets.Secrets:
        return secrets.Secrets(gate().store, settings())

    @router.get("/secrets", response_model=list[SecretOut], tags=["secrets"])
    def list_secrets(*, who: Principal = admin) -> list[SecretOut]:
        """Names, who set them and when: never values."""
        return [SecretOut(**vars(s)) for s in secret_store().list()]

    @router.put(
        "/secrets/{name}",
        response_model=SecretOut,
        tags=["secrets"],
        responses={201: {"model": SecretOut, "description": "Created."}, **responses(400, 413)},
    )
    def set_secret(
        *,
        name: SecretName,
        body: SecretIn,
        who: Principal = admin,
        request: Request,
        response: fastapi.Response,
    ) -> SecretOut:
        """Store or replace a secret's value (encrypted; it is never sent back)."""
        created = secret_store().set(name, body.value, by=who.actor)
        if created:
            response.status_code = status.HTTP_201_CREATED
        note(request, "secret.create" if created else "secret.replace", name)
        return SecretOut(**vars(next(s for s in secret_store().list() if s.name == name)))

    @router.delete("/secrets/{name}", status_code=204, tags=["secrets"], responses=responses(404))
    def delete_secret(
        *, name: SecretName, who: Principal = admin, request: Request
    ) -> fastapi.Response:
        secret_store().delete(name)
        note(request, "secret.delete", name)
        return fastapi.Response(status_code=204)

    # -- audit log ------------------------------------------------------------------------

    @router.get("/audit", response_model=AuditPage, tags=["access"])
    async def audit_log(
        *,
        who: Principal = admin,
        actor: Annotated[Text | None, Query(max_length=200)] = None,
        action: Annotated[Text | None, Query(max_length=80)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    ) -> AuditPage:
        """Who did what, when, from where: newest first."""
        found, total = await asyncio.to_thread(
            audit.entries, gate().store, actor=actor, action=action, limit=limit, offset=offset
        )
        return AuditPage(
            entries=[AuditOut(**vars(e)) for e in found], total=total, limit=limit, offset=offset
        )

    return router


def parse_expiry(text: str) -> dt.timedelta | None:
    """``90d``, ``12h``, ``30m`` (as share links take them), or empty/never for none."""
    try:
        return sharing.parse_lifetime(text)
    except Exception as exc:
        raise InputError(str(exc).replace("link lifetime", "key lifetime")) from None
