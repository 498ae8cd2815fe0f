"""Expressions in the config fields of library nodes (``runtime.nodes.library``).

A field holds Jinja2 text (``"Hello {{ inputs.name }}"``), a bare Jinja2 expression (a
``filter``'s condition) or a JMESPath expression (a ``transform``'s). Two names are known:
``inputs.x`` (the run input ``x``) and ``nodes.X.output`` (node ``X``'s value). What a field
names is read when the graph is built, so a reference to a node becomes an edge and one to an
input declares a run input; anything else is refused then, naming the node and the field.

Jinja2 runs in a ``SandboxedEnvironment``: no attribute access to Python internals
(``__class__``, ``__globals__``), no unsafe calls.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from runtime.errors import GraphError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

Language = Literal["text", "jinja", "jmespath"]
"""``text``: a Jinja2 template rendering text; ``jinja``: one Jinja2 expression, its value
kept as is; ``jmespath``: a JMESPath expression over ``{"inputs": ..., "nodes": ...}``."""

NODES, INPUTS = "nodes", "inputs"


class ExpressionError(ValueError):
    """An expression failed while its node ran: the message shows the expression and the
    values it saw."""


@dataclass
class Refs:
    """What a node's expressions name: node -> the first field naming it, likewise inputs."""

    nodes: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)

    def add(self, other: Refs) -> None:
        for name, where in other.nodes.items():
            self.nodes.setdefault(name, where)
        for name, where in other.inputs.items():
            self.inputs.setdefault(name, where)


@functools.cache
def environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    # StrictUndefined: a misspelt key is an error showing the value, not an empty string
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=1024)
def _template(text: str) -> Any:
    # compiling is ~1 ms; a node's fields are the same text on every attempt and element
    return environment().from_string(text)


@functools.lru_cache(maxsize=1024)
def _expression(text: str) -> Any:
    return environment().compile_expression(text, undefined_to_none=False)


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def references(node: str, where: str, text: str, language: Language) -> Refs:
    """The nodes and inputs ``text`` names; ``GraphError`` naming ``node`` and the field
    ``where`` for a syntax error, an unknown name or a reference that is not spelt out
    (``nodes[name]``: it could not become an edge)."""
    if language == "jmespath":
        return _jmespath_refs(node, where, text)
    import jinja2
    from jinja2 import meta
    from jinja2 import nodes as ast

    source = text if language == "text" else "{{ " + text + " }}"
    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise GraphError(f"node {node!r}: field {where}: {exc.message} in {text!r}") from None
    unknown = sorted(meta.find_undeclared_variables(tree) - {NODES, INPUTS})
    if unknown:
        raise GraphError(
            f"node {node!r}: field {where}: {text!r} names {', '.join(unknown)}; "
            "expressions know inputs.<name> and nodes.<node>.output"
        )
    refs = Refs()
    spelt: set[int] = set()  # ids of Name nodes that are the root of a spelt-out reference
    for attr in tree.find_all((ast.Getattr, ast.Getitem)):
        root, key = attr.node, _key(attr)  # type: ignore[attr-defined]
        if isinstance(root, ast.Name) and root.name in (NODES, INPUTS) and key is not None:
            if not key.isidentifier():
                raise GraphError(f"node {node!r}: field {where}: {key!r} is not a name in {text!r}")
            (refs.nodes if root.name == NODES else refs.inputs).setdefault(key, where)
            spelt.add(id(root))
    for name in tree.find_all(ast.Name):
        if name.name in (NODES, INPUTS) and id(name) not in spelt and name.ctx == "load":
            raise GraphError(
                f"node {node!r}: field {where}: {text!r} uses {name.name} without naming "
                f"one (write {name.name}.<name>), so no edge can be drawn from it"
            )
    return refs


def _key(attr: Any) -> str | None:
    from jinja2 import nodes as ast

    if isinstance(attr, ast.Getattr):
        return str(attr.attr)
    if isinstance(attr.arg, ast.Const) and isinstance(attr.arg.value, str):
        return attr.arg.value
    return None


def _jmespath_refs(node: str, where: str, text: str) -> Refs:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        parsed = jmespath.compile(text).parsed
    except JMESPathError as exc:
        shown = " ".join(str(exc).split()[:4])  # its first words; the rest repeats the text
        raise GraphError(f"node {node!r}: field {where}: {shown} in {text!r}") from None
    refs = Refs()
    for chain in _walk(parsed):
        children = chain.get("children", [])
        if chain["type"] == "subexpression" and len(children) >= 2:
            first, second = children[0], children[1]
            root = first["type"] == "field" and first["value"] in (NODES, INPUTS)
            if root and second["type"] == "field":
                target = refs.nodes if first["value"] == NODES else refs.inputs
                target.setdefault(second["value"], where)
    return refs


def _walk(tree: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield tree
    for child in tree.get("children", []):
        if isinstance(child, Mapping):
            yield from _walk(child)


def evaluate(node: str, where: str, text: str, language: Language, context: Mapping) -> Any:
    """``text`` evaluated over ``context`` (``{"inputs": ..., "nodes": ...}``); an
    ``ExpressionError`` shows the expression and the values when it fails."""
    try:
        if language == "jmespath":
            import jmespath

            return jmespath.search(text, _plain(context))
        if language == "jinja":
            return _expression(text)(**context)
        return _template(text).render(**context)
    except Exception as exc:
        shown = repr(_plain(context))
        if len(shown) > 500:
            shown = shown[:500] + "…"
        raise ExpressionError(
            f"node {node!r}: field {where}: {text!r} failed: {type(exc).__name__}: {exc} "
            f"(values: {shown})"
        ) from None


_WHOLE = re.compile(r"\A\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\Z", re.DOTALL)


def render_fields(
    node: str, value: Any, context: Mapping, where: str = "", native: bool = True
) -> Any:
    """``value`` (a config field: text, or dicts and lists holding text) with every template
    in it rendered. With ``native``, a text that is one ``{{ expression }}`` and nothing else
    keeps its value's type (a number, a list, chat messages) instead of becoming text."""
    if isinstance(value, str):
        whole = _WHOLE.match(value.strip()) if native else None
        if whole is not None:
            return evaluate(node, where, whole["expr"].strip(), "jinja", context)
        return evaluate(node, where, value, "text", context) if is_template(value) else value
    if isinstance(value, Mapping):
        return {
            k: render_fields(node, v, context, f"{where}.{k}", native) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            render_fields(node, v, context, f"{where}[{i}]", native) for i, v in enumerate(value)
        ]
    return value


def field_refs(node: str, value: Any, where: str) -> Refs:
    """``references`` of every template in a config field (text, dicts and lists of it)."""
    refs = Refs()
    if isinstance(value, str):
        if is_template(value):
            refs.add(references(node, where, value, "text"))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            refs.add(field_refs(node, v, f"{where}.{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            refs.add(field_refs(node, v, f"{where}[{i}]"))
    return refs


def context(refs_nodes: list[str], refs_inputs: list[str], values: Mapping[str, Any]) -> dict:
    """What expressions see, from the node's arguments by parameter (source) name."""
    return {
        NODES: {n: {"output": values.get(n)} for n in refs_nodes},
        INPUTS: {i: values.get(i) for i in refs_inputs},
    }


def _plain(value: Any) -> Any:
    """JSON-like data for JMESPath and error messages (pydantic models as dicts)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
