"""The node panel's details sections for library nodes (``studio.logic.node_details``):
token usage, the HTTP request summary, the code node's stdout and stderr."""

from __future__ import annotations

import reflex as rx

from studio.components import common
from studio.logic.node_details import DetailsPanel


def details_sections(p: rx.Var[DetailsPanel]) -> rx.Component:
    return rx.fragment(
        rx.cond(
            p.tokens != "",
            common.section(
                "Token usage",
                rx.text(p.tokens, size="2", weight="medium", class_name="plait-token-usage"),
                rx.cond(p.model != "", rx.text(p.model, size="1", color_scheme="gray")),
                rx.text(p.run_tokens, size="1", color_scheme="gray", class_name="plait-run-tokens"),
                rx.cond(p.attempt != "", rx.text(p.attempt, size="1", color_scheme="gray")),
                class_name="plait-node-tokens",
            ),
        ),
        rx.cond(
            p.http != "",
            common.section(
                "HTTP request",
                rx.code(p.http, class_name="plait-http-summary", data_status=p.http_status),
                rx.cond(
                    p.http_tries.length() > 0,  # type: ignore[attr-defined]
                    rx.vstack(
                        rx.foreach(
                            p.http_tries,
                            lambda t: rx.text(t, size="1", class_name="plait-http-try"),
                        ),
                        spacing="1",
                    ),
                ),
                rx.cond(
                    p.http_error != "",
                    rx.text(
                        p.http_error, size="1", color_scheme="red", class_name="plait-http-error"
                    ),
                ),
                rx.cond(p.attempt != "", rx.text(p.attempt, size="1", color_scheme="gray")),
                class_name="plait-node-http",
            ),
        ),
        rx.cond(
            (p.code != "") | (p.stdout != "") | (p.stderr != ""),
            common.section(
                "Code output",
                rx.cond(p.code != "", rx.text(p.code, size="1", class_name="plait-code-run")),
                rx.cond(p.attempt != "", rx.text(p.attempt, size="1", color_scheme="gray")),
                rx.cond(
                    p.stdout != "",
                    rx.vstack(
                        rx.text("stdout", size="1", color_scheme="gray"),
                        common.pre(p.stdout, extra_class="plait-stdout"),
                        spacing="1",
                        width="100%",
                    ),
                ),
                rx.cond(
                    p.stderr != "",
                    rx.vstack(
                        rx.text("stderr", size="1", color_scheme="gray"),
                        common.pre(p.stderr, extra_class="plait-stderr"),
                        spacing="1",
                        width="100%",
                    ),
                ),
                class_name="plait-node-code",
            ),
        ),
    )
