"""The admin's settings pages: users, API keys, secrets (write-only) and the audit log; one
small state each. Every handler checks for the admin role on the server."""

from __future__ import annotations

from typing import Any

import reflex as rx

from runtime import audit, secrets
from runtime.api_admin import parse_expiry
from runtime.config import settings
from runtime.errors import PlaitError
from studio.logic import access
from studio.states.base import blocking, client, gate, permitted, record

ROLES = ["viewer", "editor", "admin"]
KEY_LIFETIMES = {"30 days": "30d", "90 days": "90d", "1 year": "365d", "never": ""}


def _secrets() -> secrets.Secrets:
    return secrets.Secrets(client().store, settings())


class UsersState(rx.State):
    rows: list[access.UserRow] = []
    message: str = ""
    allowed: bool = True

    async def load(self) -> None:
        found, why = await permitted(self, "admin", "manage users")
        self.allowed = found is not None
        if found is None:
            self.rows, self.message = [], why
            return
        self.rows = [access.user_row(u) for u in await blocking(gate().users.list)]

    async def add(self, form: dict[str, Any]) -> None:
        name, role = str(form.get("name", "")).strip(), str(form.get("role", "viewer"))
        found, why = await permitted(self, "admin", "add users", target=name)
        if found is None:
            self.message = why
            return
        try:
            await blocking(
                gate().users.add, name, role, str(form.get("password", "")), by=found.actor
            )
        except PlaitError as exc:
            self.message = str(exc)
            return
        gate().forget_users()
        await record(self, found, "user.add", name, role=role)
        self.message = f"added {role} {name}"
        await self.load()

    async def set_role(self, name: str, role: str) -> None:
        found, why = await permitted(self, "admin", "change roles", target=name)
        if found is None:
            self.message = why
            return
        try:
            await blocking(gate().users.set_role, name, role)
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, found, "user.set_role", name, role=role)
        self.message = f"{name} is now {role}"
        await self.load()

    async def toggle(self, name: str) -> None:
        found, why = await permitted(self, "admin", "disable users", target=name)
        if found is None:
            self.message = why
            return
        users = gate().users
        try:
            user = await blocking(users.get, name)
            if user.active:
                await blocking(users.disable, name)
            else:
                await blocking(users.enable, name)
        except PlaitError as exc:
            self.message = str(exc)
            return
        gate().forget_users()
        action = "user.disable" if user.active else "user.enable"
        await record(self, found, action, name)
        self.message = f"{'disabled' if user.active else 'enabled'} {name}"
        await self.load()

    async def reset_password(self, form: dict[str, Any]) -> None:
        name = str(form.get("name", ""))
        found, why = await permitted(self, "admin", "reset passwords", target=name)
        if found is None:
            self.message = why
            return
        try:
            await blocking(gate().users.reset_password, name, str(form.get("password", "")))
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, found, "user.reset_password", name)
        self.message = f"new password set for {name}; its sessions ended"


class KeysState(rx.State):
    rows: list[access.KeyRow] = []
    message: str = ""
    token: str = ""
    """The key just created: shown this once, never stored."""
    allowed: bool = True

    async def load(self) -> None:
        found, why = await permitted(self, "admin", "manage API keys")
        self.allowed = found is not None
        if found is None:
            self.rows, self.message = [], why
            return
        self.rows = [access.key_row(k) for k in await blocking(gate().keys.list)]

    async def create(self, form: dict[str, Any]) -> None:
        name = str(form.get("name", ""))
        found, why = await permitted(self, "admin", "create API keys", target=name)
        if found is None:
            self.message, self.token = why, ""
            return
        try:
            lifetime = parse_expiry(KEY_LIFETIMES.get(str(form.get("expires", "")), "90d"))
            token, key = await blocking(
                gate().keys.create,
                name,
                str(form.get("role", "viewer")),
                workflows=access.workflow_list(str(form.get("workflows", ""))),
                expires_in=lifetime,
                by=found.actor,
            )
        except PlaitError as exc:
            self.message, self.token = str(exc), ""
            return
        await record(self, found, "key.create", key.id, role=key.role)
        self.token = token
        self.message = f"key {key.id} created: copy the token now, it is not shown again"
        await self.load()

    async def revoke(self, key_id: str) -> None:
        found, why = await permitted(self, "admin", "revoke API keys", target=key_id)
        if found is None:
            self.message = why
            return
        try:
            await blocking(gate().keys.revoke, key_id)
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, found, "key.revoke", key_id)
        self.message, self.token = f"revoked key {key_id}", ""
        await self.load()

    def forget_token(self) -> None:
        self.token = ""


class SecretsState(rx.State):
    rows: list[access.SecretRow] = []
    message: str = ""
    allowed: bool = True

    async def load(self) -> None:
        found, why = await permitted(self, "admin", "manage secrets")
        self.allowed = found is not None
        if found is None:
            self.rows, self.message = [], why
            return
        self.rows = [access.secret_row(s) for s in await blocking(_secrets().list)]

    async def save(self, form: dict[str, Any]) -> None:
        name = str(form.get("name", "")).strip()
        found, why = await permitted(self, "admin", "set secrets", target=name)
        if found is None:
            self.message = why
            return
        try:
            created = await blocking(
                _secrets().set, name, str(form.get("value", "")), by=found.actor
            )
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, found, "secret.create" if created else "secret.replace", name)
        self.message = f"{'stored' if created else 'replaced'} secret {name}"
        await self.load()

    async def delete(self, name: str) -> None:
        found, why = await permitted(self, "admin", "delete secrets", target=name)
        if found is None:
            self.message = why
            return
        try:
            await blocking(_secrets().delete, name)
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, found, "secret.delete", name)
        self.message = f"deleted secret {name}"
        await self.load()


class AuditState(rx.State):
    rows: list[access.AuditRow] = []
    total: int = 0
    actor_filter: str = ""
    message: str = ""
    allowed: bool = True

    async def load(self) -> None:
        found, why = await permitted(self, "admin", "read the audit log")
        self.allowed = found is not None
        if found is None:
            self.rows, self.total, self.message = [], 0, why
            return
        entries, total = await blocking(
            audit.entries, client().store, actor=self.actor_filter or None, limit=200
        )
        self.rows, self.total, self.message = [access.audit_row(e) for e in entries], total, ""

    async def set_actor_filter(self, value: str) -> None:
        self.actor_filter = value.strip()
        await self.load()
