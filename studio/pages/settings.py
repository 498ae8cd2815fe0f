"""The admin's settings pages: users, API keys, secrets (write-only), audit log."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.logic.access import AuditRow, KeyRow, SecretRow, UserRow
from studio.states.settings import (
    KEY_LIFETIMES,
    ROLES,
    AuditState,
    KeysState,
    SecretsState,
    UsersState,
)

TABS = [
    ("Users", "/settings/users"),
    ("API keys", "/settings/keys"),
    ("Secrets", "/settings/secrets"),
    ("Audit log", "/settings/audit"),
]


def tabs() -> rx.Component:
    return rx.hstack(
        *[common.nav_link(text, href) for text, href in TABS], spacing="5", margin_bottom="16px"
    )


def message(text: rx.Var) -> rx.Component:
    return rx.cond(text != "", rx.callout(text, size="1", class_name="plait-settings-message"))


def table(heads: list[str], body: rx.Component, class_name: str) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in heads])),
        body,
        size="1",
        width="100%",
        class_name=class_name,
    )


# -- users -----------------------------------------------------------------------------------


def user_row(user: rx.Var[UserRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(user.name),
        rx.table.cell(
            rx.select(
                ROLES,
                value=user.role,
                on_change=lambda role: UsersState.set_role(user.name, role),
                size="1",
            )
        ),
        rx.table.cell(user.state),
        rx.table.cell(user.created),
        rx.table.cell(user.created_by),
        rx.table.cell(
            rx.button(
                rx.cond(user.state == "active", "Disable", "Enable"),
                on_click=UsersState.toggle(user.name),
                size="1",
                variant="soft",
            )
        ),
        class_name="plait-user-row",
        data_user=user.name,
    )


def users_page() -> rx.Component:
    return common.shell(
        tabs(),
        message(UsersState.message),
        rx.cond(
            UsersState.allowed,
            rx.vstack(
                table(
                    ["name", "role", "state", "created", "by", ""],
                    rx.table.body(rx.foreach(UsersState.rows, user_row)),
                    "plait-users",
                ),
                common.section(
                    "Add a user",
                    rx.form(
                        rx.hstack(
                            rx.input(name="name", placeholder="name", required=True),
                            rx.select(ROLES, name="role", default_value="viewer"),
                            rx.input(
                                name="password",
                                type="password",
                                placeholder="password (10+ characters)",
                                required=True,
                            ),
                            rx.button("Add", type="submit", id="add-user"),
                            spacing="2",
                        ),
                        on_submit=UsersState.add,
                        reset_on_submit=True,
                        id="add-user-form",
                    ),
                ),
                common.section(
                    "Reset a password",
                    rx.form(
                        rx.hstack(
                            rx.input(name="name", placeholder="name", required=True),
                            rx.input(name="password", type="password", placeholder="new password"),
                            rx.button("Set password", type="submit", variant="soft"),
                            spacing="2",
                        ),
                        on_submit=UsersState.reset_password,
                        reset_on_submit=True,
                    ),
                ),
                spacing="5",
                width="100%",
            ),
        ),
        title="Users",
    )


# -- API keys --------------------------------------------------------------------------------


def key_row(key: rx.Var[KeyRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(key.id)),
        rx.table.cell(key.name),
        rx.table.cell(key.role),
        rx.table.cell(key.state),
        rx.table.cell(key.workflows),
        rx.table.cell(key.created_by),
        rx.table.cell(key.expires),
        rx.table.cell(key.last_used),
        rx.table.cell(
            rx.cond(
                key.state == "active",
                rx.button(
                    "Revoke",
                    on_click=KeysState.revoke(key.id),
                    size="1",
                    color_scheme="red",
                    variant="soft",
                ),
            )
        ),
        class_name="plait-key-row",
        data_key=key.id,
    )


def keys_page() -> rx.Component:
    return common.shell(
        tabs(),
        message(KeysState.message),
        rx.cond(
            KeysState.token != "",
            rx.hstack(
                rx.code(KeysState.token, id="new-key-token"),
                rx.button("Copy", on_click=rx.set_clipboard(KeysState.token), size="1"),
                rx.button("Done", on_click=KeysState.forget_token, size="1", variant="soft"),
                align="center",
            ),
        ),
        rx.cond(
            KeysState.allowed,
            rx.vstack(
                table(
                    [
                        "id",
                        "name",
                        "role",
                        "state",
                        "workflows",
                        "by",
                        "expires",
                        "last used",
                        "",
                    ],
                    rx.table.body(rx.foreach(KeysState.rows, key_row)),
                    "plait-keys",
                ),
                common.section(
                    "Create a key",
                    rx.form(
                        rx.hstack(
                            rx.input(name="name", placeholder="name (e.g. ci)", required=True),
                            rx.select(ROLES, name="role", default_value="viewer"),
                            rx.select(list(KEY_LIFETIMES), name="expires", default_value="90 days"),
                            rx.input(name="workflows", placeholder="workflows (blank: all)"),
                            rx.button("Create", type="submit", id="create-key"),
                            spacing="2",
                        ),
                        on_submit=KeysState.create,
                        reset_on_submit=True,
                    ),
                ),
                spacing="5",
                width="100%",
            ),
        ),
        title="API keys",
    )


# -- secrets ---------------------------------------------------------------------------------


def secret_row(secret: rx.Var[SecretRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(secret.name)),
        rx.table.cell(secret.updated),
        rx.table.cell(secret.updated_by),
        rx.table.cell(secret.created),
        rx.table.cell(
            rx.button(
                "Delete",
                on_click=SecretsState.delete(secret.name),
                size="1",
                color_scheme="red",
                variant="soft",
            )
        ),
        class_name="plait-secret-row",
        data_secret=secret.name,
    )


def secrets_page() -> rx.Component:
    return common.shell(
        tabs(),
        rx.text(
            "Values are encrypted and never shown again: a secret can be replaced, not read. "
            'Nodes declare the ones they read: @g.node(secrets=["NAME"]).',
            size="2",
            color_scheme="gray",
        ),
        message(SecretsState.message),
        rx.cond(
            SecretsState.allowed,
            rx.vstack(
                table(
                    ["name", "updated", "by", "created", ""],
                    rx.table.body(rx.foreach(SecretsState.rows, secret_row)),
                    "plait-secrets",
                ),
                common.section(
                    "Set a secret",
                    rx.form(
                        rx.hstack(
                            rx.input(name="name", placeholder="OPENAI_API_KEY", required=True),
                            rx.input(
                                name="value", type="password", placeholder="value", required=True
                            ),
                            rx.button("Save", type="submit", id="save-secret"),
                            spacing="2",
                        ),
                        on_submit=SecretsState.save,
                        reset_on_submit=True,
                    ),
                ),
                spacing="5",
                width="100%",
            ),
        ),
        title="Secrets",
    )


# -- audit log -------------------------------------------------------------------------------


def audit_row(entry: rx.Var[AuditRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(entry.at),
        rx.table.cell(entry.actor),
        rx.table.cell(entry.action),
        rx.table.cell(entry.target),
        rx.table.cell(entry.address),
        rx.table.cell(entry.outcome),
        class_name="plait-audit-row",
        data_outcome=entry.outcome,
    )


def audit_page() -> rx.Component:
    return common.shell(
        tabs(),
        message(AuditState.message),
        rx.cond(
            AuditState.allowed,
            rx.vstack(
                rx.input(
                    placeholder="only this user or key",
                    on_blur=AuditState.set_actor_filter,
                    width="280px",
                ),
                rx.text(AuditState.total.to_string() + " entries", size="2", color_scheme="gray"),
                table(
                    ["when", "who", "action", "target", "from", "outcome"],
                    rx.table.body(rx.foreach(AuditState.rows, audit_row)),
                    "plait-audit",
                ),
                width="100%",
            ),
        ),
        title="Audit log",
    )
