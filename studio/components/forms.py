"""Generated forms: one input per ``FormField`` (``studio.logic.forms``), its error under it."""

from __future__ import annotations

import reflex as rx

from studio.logic.forms import FormField


def field_input(f: rx.Var[FormField], key_prefix: rx.Var[str] | str = "") -> rx.Component:
    """The input for one field; every input is named, so the form's data carries it."""
    key = key_prefix + f.name  # type: ignore[operator]
    text_input = rx.input(
        name=f.name,
        default_value=f.default,
        placeholder=f.hint,
        key=key,
        width="100%",
        class_name="plait-field-input",
    )
    return rx.match(
        f.kind,
        (
            "boolean",
            rx.checkbox(
                name=f.name, default_checked=f.checked, key=key, class_name="plait-field-input"
            ),
        ),
        (
            "choice",
            rx.select(
                f.choices,
                name=f.name,
                default_value=rx.cond(f.default != "", f.default, f.choices[0]),
                key=key,
                width="100%",
            ),
        ),
        (
            "json",
            rx.text_area(
                name=f.name,
                default_value=f.default,
                placeholder='JSON, e.g. [1, 2] or {"a": 1}',
                key=key,
                width="100%",
                class_name="plait-field-input",
            ),
        ),
        (
            "date",
            rx.input(
                name=f.name,
                type="date",
                default_value=f.default,
                key=key,
                class_name="plait-field-input",
            ),
        ),
        text_input,
    )


def field_row(f: rx.Var[FormField], key_prefix: rx.Var[str] | str = "") -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(f.label, weight="medium", size="2"),
            rx.cond(f.required, rx.text("*", color_scheme="red", size="2")),
            rx.cond(
                f.kind != "text",
                rx.text(f.kind, size="1", color_scheme="gray"),
            ),
            spacing="1",
            align="center",
        ),
        field_input(f, key_prefix),
        rx.cond(
            f.error != "",
            rx.text(
                f.error,
                color_scheme="red",
                size="1",
                class_name="plait-field-error",
                data_field=f.name,
            ),
            rx.cond(f.hint != "", rx.text(f.hint, size="1", color_scheme="gray")),
        ),
        spacing="1",
        width="100%",
        class_name="plait-field",
        data_field=f.name,
    )


def fields(items: rx.Var[list[FormField]], key_prefix: rx.Var[str] | str = "") -> rx.Component:
    return rx.vstack(
        rx.foreach(items, lambda f: field_row(f, key_prefix)),
        spacing="3",
        width="100%",
    )
