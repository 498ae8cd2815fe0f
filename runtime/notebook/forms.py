"""Wait forms: one ipywidgets form per waiting node, built from the payload's JSON schema.
Submitting calls ``run.resume``; a rejected payload shows each error next to its field and
the run keeps waiting."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from runtime.errors import PayloadError, PlaitError


@dataclass
class FieldSpec:
    """What a form field needs to know about one schema property."""

    name: str
    kind: str
    """text | integer | number | boolean | choice | date"""
    required: bool
    default: Any = None
    choices: list[Any] = field(default_factory=list)
    title: str = ""


def field_specs(schema: dict[str, Any]) -> list[FieldSpec]:
    """Flatten a pydantic JSON schema into form fields (enums via ``$defs`` resolved)."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    specs = []
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(prop, defs)
        kind, choices = _kind(prop, defs)
        specs.append(
            FieldSpec(
                name=name,
                kind=kind,
                required=name in required,
                default=prop.get("default"),
                choices=choices,
                title=prop.get("title", name),
            )
        )
    return specs


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        return {
            **defs[prop["$ref"].split("/")[-1]],
            **{k: v for k, v in prop.items() if k != "$ref"},
        }
    if "anyOf" in prop:  # Optional[X]: the non-null branch
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            return {
                **_resolve(branches[0], defs),
                **{k: v for k, v in prop.items() if k != "anyOf"},
            }
    return prop


def _kind(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, list[Any]]:
    if "enum" in prop:
        return "choice", list(prop["enum"])
    if "const" in prop:
        return "choice", [prop["const"]]
    kind = prop.get("type")
    if kind == "boolean":
        return "boolean", []
    if kind == "integer":
        return "integer", []
    if kind == "number":
        return "number", []
    if kind == "string" and prop.get("format") == "date":
        return "date", []
    return "text", []


def make_widget(spec: FieldSpec) -> w.Widget:
    desc = spec.title + ("" if spec.required else " (optional)")
    # continuous: a value typed just before clicking Submit (no Enter, no blur) still counts
    style = {"description_width": "initial"}
    if spec.kind == "boolean":
        return w.Checkbox(value=bool(spec.default), description=desc, style=style, indent=False)
    if spec.kind == "integer":
        return w.IntText(
            value=spec.default or 0, description=desc, style=style, continuous_update=True
        )
    if spec.kind == "number":
        return w.FloatText(
            value=spec.default or 0.0, description=desc, style=style, continuous_update=True
        )
    if spec.kind == "choice":
        value = spec.default if spec.default in spec.choices else spec.choices[0]
        return w.Dropdown(options=spec.choices, value=value, description=desc, style=style)
    if spec.kind == "date":
        value = dt.date.fromisoformat(spec.default) if spec.default else None
        return w.DatePicker(value=value, description=desc, style=style)
    return w.Text(value=spec.default or "", description=desc, style=style, continuous_update=True)


def widget_value(spec: FieldSpec, widget: w.Widget) -> Any:
    value = widget.value
    if spec.kind == "date":
        return value.isoformat() if value else None
    return value


class WaitForm:
    """The form for one waiting node. ``submit`` is called with the payload dict and must
    raise ``PayloadError`` to reject it."""

    def __init__(self, node: str, schema: dict[str, Any], submit: Callable[[dict], Any]) -> None:
        self.node = node
        self.specs = field_specs(schema)
        self.submit_payload = submit
        self.fields = {s.name: make_widget(s) for s in self.specs}
        self.errors = {s.name: w.HTML("") for s in self.specs}
        self.message = w.HTML("")
        self.message.add_class("plait-form-error")
        self.submit = w.Button(description="Submit", button_style="primary")
        self.submit.on_click(lambda _button: self.send())
        title = w.HTML(f"<b>{html.escape(node)}</b> is waiting for input")
        rows = [w.HBox([self.fields[s.name], self.errors[s.name]]) for s in self.specs]
        self.box = w.VBox([title, *rows, w.HBox([self.submit, self.message])])
        self.box.add_class("plait-wait-form")

    def payload(self) -> dict[str, Any]:
        out = {}
        for spec in self.specs:
            value = widget_value(spec, self.fields[spec.name])
            if value in (None, "") and not spec.required:
                continue
            out[spec.name] = value
        return out

    def send(self) -> bool:
        """Submit the form; returns whether the payload was accepted."""
        for label in self.errors.values():
            label.value = ""
        try:
            self.submit_payload(self.payload())
        except PayloadError as exc:
            self.show_errors(exc.errors)
            return False
        except PlaitError as exc:
            self.message.value = _error_html(str(exc))
            return False
        self.submit.disabled = True
        self.message.value = "<span style='color:#15803d'>submitted</span>"
        return True

    def show_errors(self, errors: Sequence[Mapping[str, Any]]) -> None:
        general = []
        for error in errors:
            loc = error.get("loc") or ()
            name = str(loc[0]) if loc else ""
            if name in self.errors:
                self.errors[name].value = _error_html(error.get("msg", "invalid"))
            else:
                general.append(error.get("msg", "invalid"))
        shown = self.payload()
        summary = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        self.message.value = _error_html(
            "; ".join(general) or f"please fix the fields marked (sent: {summary})"
        )


def _error_html(text: str) -> str:
    return f"<span class='plait-field-error' style='color:#b91c1c'>{html.escape(text)}</span>"
