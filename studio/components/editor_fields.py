"""A config field's text as one small React component (``PlaitConfigText``, defined in
``editor_fields.js``): a code editor for code fields, and completion of the names an
expression may read (``studio.logic.editor_forms.references``) for expression fields.

The code editor is ``react-simple-code-editor`` (a textarea under a highlighted copy of its
text: Tab indents, undo is the browser's); the highlighting (Python, Jinja2's delimiters) is
a few regular expressions of the component's own, so no grammar package is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import reflex as rx
from reflex.vars.base import Var

EDITOR_PACKAGE = "react-simple-code-editor@0.14.1"

_CODE = (Path(__file__).parent / "editor_fields.js").read_text()


def _text(value: Var[str]) -> tuple[Var[str]]:
    return (value,)


class ConfigText(rx.Component):
    tag = "PlaitConfigText"

    value: Var[str]
    """The text shown first (the component keeps its own copy while it is edited; a new
    ``key`` shows a new value)."""
    code: Var[bool]
    multiline: Var[bool]
    rows: Var[int]
    language: Var[str]
    """python | jinja | "" (no highlighting)."""
    placeholder: Var[str]
    expression: Var[bool]
    refs: Var[list[str]]
    braces: Var[bool]
    """A reference goes in as ``{{ ref }}`` (a template), not bare."""
    on_commit: rx.EventHandler[_text]

    def add_imports(self) -> dict[str, Any]:
        return {
            EDITOR_PACKAGE: [rx.ImportVar(tag="Editor", is_default=True)],
            "react": ["useState", "useRef"],
        }

    def add_custom_code(self) -> list[str]:
        return [_CODE]


config_text = ConfigText.create
