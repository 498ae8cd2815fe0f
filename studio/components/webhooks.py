"""The webhooks section of the workflow page."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.states.webhooks import DeliveryItem, HookItem, WebhooksState


def delivery_row(d: rx.Var[DeliveryItem]) -> rx.Component:
    colour = rx.match(d.verdict, ("valid", "green"), ("unchecked", "gray"), "red")
    return rx.table.row(
        rx.table.cell(d.at),
        rx.table.cell(rx.code(d.status)),
        rx.table.cell(rx.badge(d.verdict, color_scheme=colour)),
        rx.table.cell(
            rx.cond(
                d.run_id != "",
                rx.link(rx.code(d.run_id[:12]), href=d.run_href),
                rx.text(d.error, size="1", color_scheme="gray"),
            )
        ),
        class_name="plait-delivery-row",
        data_status=d.status,
    )


def hook_card(h: rx.Var[HookItem]) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.code(WebhooksState.origin + h.path, class_name="plait-hook-url"),
            rx.badge(h.mode, variant="outline"),
            rx.badge(h.version, variant="outline"),
            rx.spacer(),
            rx.button(
                "Send test event",
                on_click=WebhooksState.send_test(h.id),
                size="1",
                class_name="plait-hook-test",
            ),
            rx.button(
                "Rotate secret",
                on_click=WebhooksState.rotate(h.id),
                size="1",
                variant="soft",
                class_name="plait-hook-rotate",
            ),
            width="100%",
            align="center",
            spacing="2",
        ),
        rx.cond(
            h.deliveries.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(c)
                            for c in ("received", "status", "signature", "run")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(h.deliveries, delivery_row)),
                size="1",
                width="100%",
            ),
            rx.text("No deliveries yet.", size="2", color_scheme="gray"),
        ),
        class_name="plait-hook",
        data_id=h.id,
        width="100%",
        spacing="2",
        padding_y="8px",
        border_top="1px solid var(--gray-a4)",
    )


def webhooks_section() -> rx.Component:
    # ``id``: a webhook run's page links here (``#webhooks``), where its delivery is listed
    return common.section(
        rx.hstack(
            rx.text("Webhooks"),
            rx.button(
                rx.icon("plus", size=12),
                "New endpoint",
                on_click=WebhooksState.create,
                size="1",
                variant="soft",
                id="new-webhook",
            ),
            rx.button("Refresh", on_click=WebhooksState.refresh, size="1", variant="ghost"),
            spacing="3",
            align="center",
        ),
        rx.cond(
            WebhooksState.secret != "",
            rx.callout(
                rx.vstack(
                    rx.text("Signing secret of " + WebhooksState.secret_for + ", shown once:"),
                    rx.code(WebhooksState.secret, id="webhook-secret"),
                    spacing="1",
                ),
                icon="key-round",
                color_scheme="amber",
                width="100%",
            ),
        ),
        rx.cond(
            WebhooksState.message != "",
            rx.text(WebhooksState.message, size="2", class_name="plait-hook-message"),
        ),
        rx.cond(
            WebhooksState.hooks.length() > 0,
            rx.vstack(rx.foreach(WebhooksState.hooks, hook_card), width="100%", spacing="0"),
            common.empty(
                "No webhooks: a signed POST to an endpoint's URL starts a run.", icon="webhook"
            ),
        ),
        id="webhooks",
    )
