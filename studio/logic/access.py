"""Rows of the settings pages (users, API keys, secrets, audit log), from what
``runtime.auth``, ``runtime.secrets`` and ``runtime.audit`` return."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.audit import Entry
from runtime.auth.apikeys import KeyInfo
from runtime.auth.users import User
from runtime.secrets import SecretInfo
from studio.logic import fmt


@dataclass
class UserRow:
    name: str
    role: str
    state: str
    created: str
    created_by: str


@dataclass
class KeyRow:
    id: str
    name: str
    role: str
    state: str
    workflows: str
    created: str
    created_by: str
    expires: str
    last_used: str


@dataclass
class SecretRow:
    name: str
    updated: str
    updated_by: str
    created: str


@dataclass
class AuditRow:
    at: str
    actor: str
    action: str
    target: str
    address: str
    outcome: str


def user_row(user: User) -> UserRow:
    return UserRow(
        user.name,
        user.role,
        "active" if user.active else "disabled",
        fmt.timestamp(user.created_at),
        user.created_by or "",
    )


def key_row(key: KeyInfo) -> KeyRow:
    return KeyRow(
        key.id,
        key.name,
        key.role,
        key.state(),
        ", ".join(key.workflows) if key.workflows else "all",
        fmt.timestamp(key.created_at),
        key.created_by or "",
        fmt.timestamp(key.expires_at) if key.expires_at else "never",
        fmt.ago(key.last_used_at) if key.last_used_at else "never",
    )


def secret_row(info: SecretInfo) -> SecretRow:
    return SecretRow(
        info.name,
        fmt.timestamp(info.updated_at),
        info.updated_by or "",
        fmt.timestamp(info.created_at),
    )


def audit_row(entry: Entry) -> AuditRow:
    return AuditRow(
        fmt.timestamp(entry.at),
        entry.actor or "(nobody)",
        entry.action,
        entry.target or "",
        entry.address or "",
        entry.outcome,
    )


def workflow_list(text: str) -> list[str] | None:
    """A key's workflows as typed (comma-separated); empty means every workflow."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    return names or None
