"""The page for any address the studio does not know."""

from __future__ import annotations

import reflex as rx

from studio.components import common


def not_found_page() -> rx.Component:
    return common.shell(common.not_found("This page does not exist.", "Workflows", "/"))
