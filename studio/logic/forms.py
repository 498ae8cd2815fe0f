"""Forms built from what a graph declares: the wait form of a waiting node (from its payload's
JSON schema) and the "Run" form of a workflow (from its run inputs, typed by the node
functions' annotations when the code is at hand, else by the defaults).

Values arrive from the browser as strings; these functions turn them into a payload or run
inputs and say, per field, what is wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.logic.preview import Preview

NODE_FIELD = "__node"
"""Hidden field of a wait form naming the node it answers."""
GENERAL = ""
"""Key of errors that belong to no single field."""


@dataclass
class FormField:
    """One field of a generated form."""

    name: str
    label: str
    kind: str
    """text | integer | number | boolean | choice | date | json | any (JSON or text)"""
    required: bool
    default: str = ""
    """Initial text of the input."""
    checked: bool = False
    """Initial state of a boolean."""
    choices: list[str] = field(default_factory=list)
    hint: str = ""
    error: str = ""


@dataclass
class WaitContext:
    """An upstream value a wait shows beside its form: what is being approved."""

    name: str
    preview: Preview


@dataclass
class WaitForm:
    """The form of one waiting node."""

    node: str
    title: str
    fields: list[FormField]
    message: str = ""
    context: list[WaitContext] = field(default_factory=list)
    """The outputs of the nodes it waits after (``g.wait(..., after=...)``, its inputs)."""


# -- wait forms (JSON schema) ------------------------------------------------------------------


def wait_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """Fields for a pydantic JSON schema (enums through ``$defs`` and ``Optional`` resolved)."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    out = []
    for name, raw in schema.get("properties", {}).items():
        prop = _resolve(raw, defs)
        kind, choices = _schema_kind(prop)
        default = prop.get("default")
        out.append(
            FormField(
                name=name,
                label=prop.get("title", name),
                kind=kind,
                # a checkbox always answers (unticked is false): nothing to leave out
                required=name in required and kind != "boolean",
                default=_default_text(kind, default),
                checked=bool(default) if kind == "boolean" else False,
                choices=[str(c) for c in choices],
                hint=prop.get("description", "") or _hint(prop),
            )
        )
    return out


def wait_form(node: str, schema: Mapping[str, Any], description: str = "") -> WaitForm:
    return WaitForm(node, description or f"{node} is waiting for input", wait_fields(schema))


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        target = defs.get(prop["$ref"].split("/")[-1], {})
        return {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    if "anyOf" in prop:  # Optional[X]: the non-null branch
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            return {
                **_resolve(branches[0], defs),
                **{k: v for k, v in prop.items() if k != "anyOf"},
            }
    return dict(prop)


def _schema_kind(prop: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if "enum" in prop:
        return "choice", list(prop["enum"])
    if "const" in prop:
        return "choice", [prop["const"]]
    kind = prop.get("type")
    if kind in ("boolean", "integer", "number"):
        return kind, []
    if kind == "string" and prop.get("format") == "date":
        return "date", []
    if kind in ("array", "object"):
        return "json", []
    return "text", []


def _hint(prop: Mapping[str, Any]) -> str:
    bounds = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<=")):
        if key in prop:
            bounds.append(f"{sign} {prop[key]}")
    if "exclusiveMaximum" in prop:
        bounds.append(f"< {prop['exclusiveMaximum']}")
    if "minLength" in prop:
        bounds.append(f"at least {prop['minLength']} characters")
    return ", ".join(bounds)


def _default_text(kind: str, default: Any) -> str:
    if default is None or kind == "boolean":
        return ""
    if kind in ("json", "any") and not isinstance(default, str):
        return json.dumps(default)
    return str(default)


def payload_from_form(
    fields: list[FormField], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The payload a submitted wait form stands for, typed by each field's kind, and errors
    the browser's strings already show (not a number, bad JSON). Schema rules are left to
    the schema: an empty field is left out, so a required one is reported missing by
    validation."""
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = data.get(f.name)
        if f.kind == "boolean":
            payload[f.name] = _truthy(raw)
            continue
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            continue
        if f.kind in ("json", "integer", "number", "date"):
            # typed here: payloads are validated strictly, so "3" would be no integer
            try:
                payload[f.name] = _convert(f.kind, str(raw))
            except ValueError as exc:
                errors[f.name] = str(exc)
            continue
        # text as typed; a choice goes back as the schema's own value through
        # ``restore_choices``
        payload[f.name] = raw
    return payload, errors


def choice_values(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field -> {text shown: schema value}, so a chosen ``"2"`` goes back as ``2``."""
    defs = schema.get("$defs", {})
    out = {}
    for name, raw in schema.get("properties", {}).items():
        prop = _resolve(raw, defs)
        kind, choices = _schema_kind(prop)
        if kind == "choice":
            out[name] = {str(c): c for c in choices}
    return out


def restore_choices(payload: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    for name, mapping in choice_values(schema).items():
        if name in payload and payload[name] in mapping:
            payload[name] = mapping[payload[name]]
    return payload


def field_errors(errors: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Pydantic errors -> message per top-level field (``GENERAL`` for the rest)."""
    out: dict[str, str] = {}
    for error in errors:
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else GENERAL
        message = str(error.get("msg", "invalid"))
        out[name] = f"{out[name]}; {message}" if name in out else message
    return out


def with_errors(fields: list[FormField], errors: Mapping[str, str]) -> list[FormField]:
    """The same fields carrying these errors (others cleared)."""
    return [FormField(**{**f.__dict__, "error": errors.get(f.name, "")}) for f in fields]


def _truthy(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in ("on", "true", "1", "yes")


# -- run forms (run inputs) --------------------------------------------------------------------


def input_fields(
    spec: Mapping[str, Any], kinds: Mapping[str, str] | None = None
) -> list[FormField]:
    """Fields for a graph's run inputs (``spec["inputs"]``), typed by ``kinds`` (from the
    node functions' annotations, see ``annotation_kinds``) or by each default's type."""
    kinds = kinds or {}
    out = []
    for name, info in spec.get("inputs", {}).items():
        required = bool(info.get("required"))
        default = info.get("default")
        kind = kinds.get(name) or (_value_kind(default) if not required else "any")
        if required:
            hint = "required" + (" (JSON or text)" if kind == "any" else "")
        else:
            hint = f"default: {json.dumps(default)}"
        out.append(
            FormField(
                name=name,
                label=name,
                kind=kind,
                required=required,
                default="" if required else _default_text(kind, default),
                checked=bool(default) if kind == "boolean" else False,
                hint=hint,
            )
        )
    return out


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | dict):
        return "json"
    return "any"


def inputs_from_form(
    fields: list[FormField], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run inputs from a submitted run form, and what is wrong per field. An empty optional
    field is left out, so the graph's default applies."""
    inputs: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = data.get(f.name)
        if f.kind == "boolean":
            inputs[f.name] = _truthy(raw)
            continue
        text = "" if raw is None else str(raw)
        if text.strip() == "":
            if f.required:
                errors[f.name] = "required"
            continue
        try:
            inputs[f.name] = _convert(f.kind, text)
        except ValueError as exc:
            errors[f.name] = str(exc)
    return inputs, errors


def _convert(kind: str, text: str) -> Any:
    if kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if kind == "number":
        try:
            number = float(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{text!r} is not a number")
        return number
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
    if kind == "any":
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind == "date":
        try:
            return dt.date.fromisoformat(text.strip()).isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return text


def annotation_kinds(graph: Any) -> dict[str, str]:
    """Run input -> field kind, read from the annotations of the parameters it feeds."""
    out: dict[str, str] = {}
    for node in graph.nodes.values():
        for param, source in node.inputs.items():
            if source in graph.nodes or source in out:
                continue
            kind = _annotation_kind(node.annotations.get(param))
            if kind:
                out[source] = kind
    return out


def _annotation_kind(annotation: Any) -> str | None:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _annotation_kind(args[0]) if len(args) == 1 else None
    if origin is typing.Literal:
        return "any"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is str:
        return "text"
    if annotation is dt.date:
        return "date"
    if annotation in (list, dict) or origin in (list, dict):
        return "json"
    return None
