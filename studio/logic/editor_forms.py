"""The config form of a selected node, from its kind's JSON schema, and the values typed
into it turned back into options (``studio.logic.editor.set_config``); what its expression
fields may name, and the completion of a name being typed (the browser's component,
``studio/components/editor_fields.js``, does the same as ``completion`` and ``insert``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.nodes.kind import options_schema
from runtime.nodes.library import LibraryKind
from runtime.nodes.registry import kind_of
from runtime.nodes.secret_options import is_secret_name, resolve
from studio.logic import editor, forms

HIDDEN = frozenset({"input_types"})
"""Options the editor sets itself (from the run inputs panel)."""
EXPRESSION_FIELDS = frozenset({"expression", "condition", "routes", "json"})
"""Fields that hold expressions whatever a kind's ``expressions`` map says (a transform's
language decides it; an HTTP ``json`` body is stored under its alias)."""
ANY_JSON = frozenset({"json"})
"""Untyped fields edited as JSON."""
PYTHON_FIELDS = frozenset({"source"})
"""Code fields holding Python (the rest of them hold Jinja2 templates)."""


@dataclass
class ConfigField:
    name: str
    """The option, or ``option.field`` for a field of a nested options model (``auth.secret``)."""
    label: str
    kind: str
    """text | code | integer | number | boolean | choice | json | secret"""
    value: str = ""
    """The text the input shows (JSON for a json field)."""
    checked: bool = False
    choices: list[str] = field(default_factory=list)
    """A choice's values; a secret's stored names."""
    required: bool = False
    hint: str = ""
    expression: bool = False
    """It accepts ``{{ ... }}`` (or is an expression itself)."""
    braces: bool = False
    """Its expressions are written inside ``{{ ... }}`` (a template), not bare."""
    language: str = ""
    """How a code field is highlighted: python | jinja (empty: not at all)."""
    default: str = ""
    """The text of the kind's default (``true``/``false`` for a boolean)."""
    missing: bool = False
    """A secret field naming a secret that is not stored (yet)."""


def config_fields(
    kind: str, config: Mapping[str, Any], secrets: Sequence[str] | None = ()
) -> list[ConfigField]:
    """One field per option of ``kind``, showing the value ``config`` holds (else the
    default); an option that is a small options model of its own (``http``'s ``auth``) is
    one field per field of it. ``secrets``: the stored secret names a secret field offers
    (``None``: not known to this user, so no name is flagged as not stored)."""
    try:
        impl = kind_of(kind)
    except Exception:
        return []
    schema = options_schema(impl)
    defs = schema.get("$defs", {})
    props = schema.get("properties", {})
    expressive = impl.expressions if isinstance(impl, LibraryKind) else {}
    out = []
    for f in forms.wait_fields(schema):
        if f.name in HIDDEN:
            continue
        nested = _nested_model(props.get(f.name, {}), defs)
        if nested is not None:
            held = config.get(f.name)
            title = props[f.name].get("title") or f.name.replace("_", " ").capitalize()
            values = held if isinstance(held, Mapping) else {}
            for sub in forms.wait_fields(nested):
                out.append(
                    _field(
                        sub,
                        values.get(sub.name),
                        name=f"{f.name}.{sub.name}",
                        label=f"{title} · {sub.label}",
                        secret=is_secret_name(nested["properties"][sub.name], defs),
                        secrets=secrets,
                    )
                )
            continue
        language = expressive.get(f.name) or ("text" if f.name in ANY_JSON else "")
        out.append(
            _field(
                f,
                config.get(f.name),
                name=f.name,
                label=f.label,
                secret=is_secret_name(props.get(f.name, {}), defs),
                secrets=secrets,
                expression=f.name in expressive or f.name in EXPRESSION_FIELDS,
                braces=language == "text",
            )
        )
    return out


def _nested_model(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema of an option that is an options model of plain fields only (each one a
    one-line input, a choice, a checkbox or a secret), with the ``$defs`` it needs."""
    (branch, *more) = resolve(prop, defs) or [{}]
    inner = branch.get("properties")
    if more or branch.get("type") != "object" or not isinstance(inner, Mapping) or not inner:
        return None
    nested = {**branch, "$defs": defs}
    if any(f.kind in ("json", "any", "date") for f in forms.wait_fields(nested)):
        return None
    return nested


def _field(
    f: forms.FormField,
    value: Any,
    *,
    name: str,
    label: str,
    secret: bool,
    secrets: Sequence[str] | None,
    expression: bool = False,
    braces: bool = False,
) -> ConfigField:
    kind_ = f.kind
    if secret:
        kind_ = "secret"
    elif f.name in ANY_JSON:
        kind_ = "json"
    elif kind_ in ("text", "any") and f.name in editor.CODE_FIELDS:
        kind_ = "code"
    elif kind_ not in ("integer", "number", "boolean", "choice", "json"):
        kind_ = "text"
    choices = list(secrets or ()) if secret else f.choices
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
    return ConfigField(
        name=name,
        label=label,
        kind=kind_,
        value=text,
        checked=checked,
        choices=choices,
        required=f.required,
        hint=f.hint,
        expression=expression,
        braces=braces,
        language=("python" if f.name in PYTHON_FIELDS else "jinja") if kind_ == "code" else "",
        default=("true" if f.checked else "false") if kind_ == "boolean" else f.default,
        missing=secret and secrets is not None and text != "" and text not in secrets,
    )


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
        schema = dict(options_schema(kind_of(kind)))
        top, _, leaf = name.partition(".")
        if leaf:
            schema = _nested_model(schema["properties"][top], schema.get("$defs", {})) or {}
        return forms.choice_values(schema).get(leaf or name, {}).get(text, text)
    if found.kind == "secret":
        return text.strip()
    return text


def option_update(
    config: Mapping[str, Any], fields: list[ConfigField], name: str, value: Any
) -> tuple[str, Any]:
    """The option to set and its value (``None``: removed) when field ``name`` takes
    ``value``: the field's own option, or for ``auth.secret`` the whole ``auth`` object
    with it, holding only what differs from the defaults (all default: no ``auth``), so a
    look at a default field does not make a half-filled object."""
    top, _, leaf = name.partition(".")
    if not leaf:
        return name, value
    held = config.get(top)
    out = dict(held) if isinstance(held, Mapping) else {}
    found = next((f for f in fields if f.name == name), None)
    default = found.default if found is not None else ""
    shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if value is None or shown == default:
        out.pop(leaf, None)
    else:
        out[leaf] = value
    return top, out or None


# -- expression completion ---------------------------------------------------------------------


def references(doc: Mapping[str, Any], node: str, wired: Iterable[Sequence[str]] = ()) -> list[str]:
    """What ``node``'s expressions may name: its upstream nodes (drawn edges first), the
    other nodes reading which closes no cycle, then the run inputs."""
    edges = [(e[0], e[1]) for e in [*doc["edges"], *wired]]
    below: set[str] = set()
    todo = [node]
    while todo:  # what runs after ``node``: reading one of them would loop
        current = todo.pop()
        for s, t in edges:
            if s == current and t not in below:
                below.add(t)
                todo.append(t)
    upstream = [s for s, t in edges if t == node]
    others = [n for n in editor.node_names(doc) if n != node and n not in below]
    names = [n for n in dict.fromkeys([*upstream, *others]) if n not in below and n != node]
    return [f"nodes.{n}.output" for n in names] + [f"inputs.{i['name']}" for i in doc["inputs"]]


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
