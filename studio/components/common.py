"""The page shell and small pieces every page uses."""

from __future__ import annotations

from typing import Any

import reflex as rx

from studio import theme
from studio.components.search import search_box
from studio.states.session import SessionState


def nav_link(text: str, href: str) -> rx.Component:
    current = SessionState.section == href
    return rx.link(
        text,
        href=href,
        size="3",
        weight="medium",
        color_scheme=rx.cond(current, theme.ACCENT, "gray"),
        high_contrast=True,
        class_name=rx.cond(current, "plait-nav plait-nav-current", "plait-nav"),
        aria_current=rx.cond(current, "page", "false"),
    )


def shell(
    *children: rx.Component,
    title: str | rx.Var | None = None,
    max_width: str = theme.PAGE_MAX_WIDTH,
) -> rx.Component:
    """Top bar with the main links, then the page (``max_width="100%"``: the editor)."""
    return rx.box(
        rx.el.style(theme.GLOBAL_CSS),
        rx.hstack(
            rx.link(
                rx.hstack(
                    rx.icon("workflow", size=20),
                    rx.heading("Plait studio", size="4"),
                    align="center",
                    spacing="2",
                ),
                href="/",
                underline="none",
                color_scheme="gray",
                high_contrast=True,
            ),
            rx.hstack(
                search_box(),
                nav_link("Workflows", "/"),
                nav_link("Runs", "/runs"),
                nav_link("Editor", "/editor"),
                nav_link("Schedules", "/schedules"),
                rx.link(
                    "API", href="/api/v1/docs", size="3", color_scheme="gray", is_external=True
                ),
                rx.cond(SessionState.is_admin, nav_link("Settings", "/settings/users")),
                user_menu(),
                # a phone's width takes the links on two lines, not a sideways scroll
                spacing=rx.breakpoints(initial="3", md="5"),
                align="center",
                wrap="wrap",
                row_gap="6px",
            ),
            justify="between",
            align="center",
            wrap="wrap",
            row_gap="8px",
            padding_x=rx.breakpoints(initial="12px", md="24px"),
            padding_y="10px",
            border_bottom="1px solid var(--gray-a5)",
            background="var(--color-panel-solid)",
            # the wrapped bar would cover a third of a phone's screen if it stayed
            position=rx.breakpoints(initial="static", md="sticky"),
            top="0",
            z_index="10",
        ),
        rx.box(
            *([rx.heading(title, size="6", margin_bottom="12px")] if title is not None else []),
            *children,
            max_width=max_width,
            margin_x="auto",
            padding=rx.breakpoints(initial="16px 12px 40px", md="20px 24px 48px"),
        ),
        min_height="100vh",
    )


LOGOUT = (
    "fetch('/auth/logout', {method: 'POST', credentials: 'same-origin'})"
    ".then(() => { window.location.href = '/login?out=1'; })"
)
"""The server ends the session and clears its HttpOnly cookie (no script can)."""


def user_menu() -> rx.Component:
    """Who is logged in, and the logout button."""
    return rx.cond(
        SessionState.local,
        rx.badge("local user", color_scheme="gray", variant="soft", id="session-user"),
        rx.cond(
            SessionState.user != "",
            rx.hstack(
                rx.text(
                    SessionState.user + " · " + SessionState.role,
                    size="2",
                    color_scheme="gray",
                    id="session-user",
                ),
                rx.button(
                    "Log out",
                    size="1",
                    variant="soft",
                    id="logout",
                    on_click=rx.call_script(LOGOUT),
                ),
                spacing="2",
                align="center",
            ),
        ),
    )


def status_badge(status: rx.Var | str, **props: Any) -> rx.Component:
    scheme = rx.match(
        status,
        *[(name, colour) for name, colour in theme.BADGE.items()],
        "gray",
    )
    return rx.badge(
        status,
        color_scheme=scheme,
        variant="soft",
        class_name=rx.Var.create("plait-status plait-status-") + status,  # type: ignore[operator]
        **props,
    )


def empty(text: str | rx.Var, icon: str = "inbox") -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=28, color="var(--gray-9)"),
            rx.text(text, color_scheme="gray"),
            align="center",
            spacing="2",
        ),
        padding="32px",
        border="1px dashed var(--gray-a6)",
        border_radius="8px",
        width="100%",
    )


def loading(text: str = "Loading…") -> rx.Component:
    return rx.center(
        rx.hstack(rx.spinner(size="3"), rx.text(text, color_scheme="gray"), align="center"),
        padding="32px",
        width="100%",
        class_name="plait-loading",
    )


def pre(
    text: rx.Var | str, error: bool = False, extra_class: str = "", **props: Any
) -> rx.Component:
    classes = "plait-pre plait-error" if error else "plait-pre"
    return rx.el.pre(text, class_name=f"{classes} {extra_class}".strip(), **props)


def section(title: str | rx.Var, *children: rx.Component, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="3", color_scheme="gray", as_="h3"),
        *children,
        spacing="2",
        width="100%",
        **props,
    )


def card(*children: rx.Component, **props: Any) -> rx.Component:
    return rx.card(*children, width="100%", **props)


def field_row(label: str, value: rx.Var | str | rx.Component) -> rx.Component:
    return rx.hstack(
        rx.text(label, color_scheme="gray", size="2", min_width="90px"),
        value if isinstance(value, rx.Component) else rx.text(value, size="2"),
        align="center",
        spacing="3",
    )


def not_found(what: str | rx.Var, back_text: str, back_href: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("404", size="9", color_scheme="gray"),
            rx.text(what, size="4", class_name="plait-not-found"),
            rx.link(back_text, href=back_href),
            align="center",
            spacing="3",
        ),
        padding_y="80px",
        width="100%",
    )


def confirm(
    trigger: rx.Component,
    title: str | rx.Var,
    description: str,
    *,
    keep: str,
    act: str,
    on_act: Any,
    act_id: str,
    open_: rx.Var[bool],
    on_open_change: Any,
) -> rx.Component:
    """A red action asked about first: ``trigger`` opens "``title``?", answered with
    ``keep`` (nothing happens) or ``act`` (``on_act``)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2"),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(keep, variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(act, color_scheme="red", on_click=on_act, id=act_id)
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=open_,
        on_open_change=on_open_change,
    )
