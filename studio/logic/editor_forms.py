"""The config form of a selected node, from its kind's JSON schema, and the values typed
into it turned back into options (``studio.logic.editor.set_config``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.nodes.kind import options_schema
from runtime.nodes.library import LibraryKind
from runtime.nodes.registry import kind_of
from studio.logic import editor, forms

HIDDEN = frozenset({"input_types"})
"""Options the editor sets itself (from the run inputs panel)."""
EXPRESSION_FIELDS = frozenset({"expression", "condition", "routes", "json"})
"""Fields that hold expressions whatever a kind's ``expressions`` map says (a transform's
language decides it; an HTTP ``json`` body is stored under its alias)."""
ANY_JSON = frozenset({"json"})
"""Untyped fields edited as JSON."""


@dataclass
class ConfigField:
    name: str
    label: str
    kind: str
    """text | code | integer | number | boolean | choice | json"""
    value: str = ""
    """The text the input shows (JSON for a json field)."""
    checked: bool = False
    choices: list[str] = field(default_factory=list)
    required: bool = False
    hint: str = ""
    expression: bool = False
    """It accepts ``{{ ... }}`` (or is an expression itself)."""


def config_fields(kind: str, config: Mapping[str, Any]) -> list[ConfigField]:
    """One field per option of ``kind``, showing the value ``config`` holds (else the
    default)."""
    try:
        impl = kind_of(kind)
    except Exception:
        return []
    schema = options_schema(impl)
    expressive = impl.expressions if isinstance(impl, LibraryKind) else {}
    out = []
    for f in forms.wait_fields(schema):
        if f.name in HIDDEN:
            continue
        kind_ = f.kind
        if f.name in ANY_JSON:
            kind_ = "json"
        elif kind_ in ("text", "any") and f.name in editor.CODE_FIELDS:
            kind_ = "code"
        elif kind_ not in ("integer", "number", "boolean", "choice", "json"):
            kind_ = "text"
        choices = f.choices
        value = config.get(f.name)
        if value is None:
            text, checked = f.default, f.checked
        elif kind_ == "json":
            text, checked = json.dumps(value), False
        elif kind_ == "boolean":
            text, checked = "", bool(value)
        else:
            text, checked = str(value), False
        if kind_ == "choice" and "" not in choices and not f.required:
            choices = ["", *choices]  # unset: the kind's default
        out.append(
            ConfigField(
                name=f.name,
                label=f.label,
                kind=kind_,
                value=text,
                checked=checked,
                choices=choices,
                required=f.required,
                hint=f.hint,
                expression=f.name in expressive or f.name in EXPRESSION_FIELDS,
            )
        )
    return out


def config_value(kind: str, fields: list[ConfigField], name: str, raw: Any) -> Any:
    """The option value typed into field ``name`` (``None``: cleared, the default
    applies); ``ValueError`` says why the text is no such value."""
    found = next((f for f in fields if f.name == name), None)
    if found is None:
        raise ValueError(f"{kind} has no option {name!r}")
    if found.kind == "boolean":
        return bool(raw)
    text = "" if raw is None else str(raw)
    if text.strip() == "":
        return None
    if found.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not a whole number") from None
    if found.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not a number") from None
    if found.kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{name}: not JSON ({exc})") from None
    if found.kind == "choice":
        schema = options_schema(kind_of(kind))
        return forms.choice_values(schema).get(name, {}).get(text, text)
    return text


def upstream_hint(doc: Mapping[str, Any], node: str) -> str:
    """What a node's expressions can name: its upstream nodes and the run inputs."""
    sources = [s for s, t in doc["edges"] if t == node]
    parts = [f"nodes.{s}.output" for s in sources]
    parts += [f"inputs.{i['name']}" for i in doc["inputs"]]
    return ", ".join(parts)


def run_fields(doc: Mapping[str, Any], needed: Mapping[str, Any]) -> list[forms.FormField]:
    """The test run's inputs form: the run inputs the graph reads (``needed``, its spec's
    ``inputs``), typed and defaulted as the run inputs panel declares them."""
    declared = {i["name"]: i for i in doc["inputs"]}
    kinds = {"str": "text", "int": "integer", "float": "number", "bool": "boolean"}
    out = []
    for name in needed:
        d = declared.get(name, {"type": "str", "default": "", "description": ""})
        kind = kinds.get(d["type"], "json" if d["type"] in ("dict", "list") else "any")
        out.append(
            forms.FormField(
                name=name,
                label=name,
                kind=kind,
                required=d["default"] == "",
                default=d["default"] if kind != "boolean" else "",
                checked=d["default"].lower() == "true" if kind == "boolean" else False,
                hint=d["description"],
            )
        )
    return out
