"""Library kinds over values: ``template`` (Jinja2 text out), ``transform`` (a JMESPath or
Jinja2 expression, JSON out), ``filter`` and ``router`` (which successors run, decided by an
expression) and ``parse`` (JSON, a pydantic model or a regex's groups, from text)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from runtime.errors import GraphError
from runtime.nodes.branch import taken
from runtime.nodes.expressions import ExpressionError, Refs, evaluate, references
from runtime.nodes.library import LibraryKind, LibraryOptions, successors_named

if TYPE_CHECKING:
    from runtime.nodes.node import Node


class TemplateOptions(LibraryOptions):
    template: str = pydantic.Field(description="Jinja2 text, e.g. Hello {{ inputs.name }}.")


class TemplateKind(LibraryKind):
    """Renders a Jinja2 template (sandboxed) over inputs and node outputs: text out."""

    name = "template"
    options = TemplateOptions
    expressions = {"template": "text"}

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> str:
        return evaluate(node, "template", options.template, "text", ctx)


class TransformOptions(LibraryOptions):
    expression: str = pydantic.Field(
        description="JMESPath over {inputs, nodes} (nodes.fetch.output.items[0]), or a Jinja2 "
        "expression when language is jinja."
    )
    language: Literal["jmespath", "jinja"] = "jmespath"


class TransformKind(LibraryKind):
    """Evaluates a JMESPath or Jinja2 expression over inputs and node outputs: JSON out."""

    name = "transform"
    options = TransformOptions

    def named(self, node: str, opts: Any) -> Refs:
        return references(node, "expression", opts.expression, opts.language)

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> Any:
        value = evaluate(node, "expression", options.expression, options.language, ctx)
        try:
            json.dumps(value)
        except TypeError:
            raise ExpressionError(
                f"node {node!r}: {options.expression!r} gave {type(value).__name__} "
                f"{value!r:.200}, which is no JSON value"
            ) from None
        return value


class FilterOptions(LibraryOptions):
    condition: str = pydantic.Field(
        description="A Jinja2 expression; when false, the nodes after this one are skipped."
    )
    value: str | None = pydantic.Field(
        default=None, description="A Jinja2 expression for the output (default: the condition)."
    )


class FilterKind(LibraryKind):
    """Lets its successors run only when a Jinja2 condition holds; they are skipped as
    untaken otherwise. Its output is ``{"passed": bool, "value": ...}``."""

    name = "filter"
    options = FilterOptions
    routes = True
    expressions = {"condition": "jinja", "value": "jinja"}

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> dict:
        passed = bool(evaluate(node, "condition", options.condition, "jinja", ctx))
        value = None
        if options.value is not None and passed:
            value = evaluate(node, "value", options.value, "jinja", ctx)
        return {"passed": passed, "value": value if options.value is not None else passed}

    def untaken(self, node: Node, value: Any, choices: Sequence[str]) -> set[str]:
        return set() if value.get("passed") else set(choices)

    def check_placed(self, node: Node, choices: Sequence[str]) -> None:
        if not choices:
            raise GraphError(
                f"filter {node.name!r} has no successors to let through or skip: add "
                f"after=[{node.name!r}] to them"
            )


class RouterOptions(LibraryOptions):
    routes: dict[str, str] = pydantic.Field(
        default_factory=dict,
        description="Successor -> a Jinja2 condition; every successor whose condition holds runs.",
    )
    expression: str | None = pydantic.Field(
        default=None,
        description="Instead of routes: a Jinja2 expression giving the successor (or list of "
        "successors) to run.",
    )
    default: str | None = pydantic.Field(
        default=None, description="The successor to run when no route's condition holds."
    )

    @pydantic.model_validator(mode="after")
    def _one_way(self) -> RouterOptions:
        if bool(self.routes) == (self.expression is not None):
            raise ValueError("give routes (successor -> condition) or expression, not both")
        return self


class RouterKind(LibraryKind):
    """Chooses which of its successors run by expression; the others are skipped as
    untaken. Its output is the list of successors taken."""

    name = "router"
    options = RouterOptions
    routes = True
    expressions = {"expression": "jinja"}

    def named(self, node: str, opts: Any) -> Refs:
        refs = super().named(node, opts)
        for route, condition in opts.routes.items():
            refs.add(references(node, f"routes.{route}", condition, "jinja"))
        return refs

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> list[str]:
        if options.expression is not None:
            chosen = evaluate(node, "expression", options.expression, "jinja", ctx)
            return [chosen] if isinstance(chosen, str) else list(chosen or [])
        names = [
            route
            for route, condition in options.routes.items()
            if evaluate(node, f"routes.{route}", condition, "jinja", ctx)
        ]
        if not names and options.default is not None:
            names = [options.default]
        return names

    def untaken(self, node: Node, value: Any, choices: Sequence[str]) -> set[str]:
        return set(choices) - set(taken(node.name, value, choices))

    def check_placed(self, node: Node, choices: Sequence[str]) -> None:
        if not choices:
            raise GraphError(
                f"router {node.name!r} has no successors to choose from: add "
                f"after=[{node.name!r}] to the nodes it routes to"
            )
        opts: Any = self.configured(node)
        successors_named(node, [*opts.routes, *filter(None, [opts.default])], choices, "routes")


class ParseOptions(LibraryOptions):
    text: str = pydantic.Field(description="The text to parse, e.g. {{ nodes.answer.output }}.")
    format: Literal["json", "regex"] = "json"
    pattern: str | None = pydantic.Field(
        default=None,
        description="For regex: its named groups are the output (or its groups, or the match).",
    )

    @pydantic.model_validator(mode="after")
    def _pattern(self) -> ParseOptions:
        if (self.format == "regex") != (self.pattern is not None):
            raise ValueError("a pattern is what format=regex takes, and only it")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r}: {exc}") from None
        return self


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class ParseKind(LibraryKind):
    """Parses text: JSON (also inside a Markdown code fence, as models write it), checked
    against a pydantic model when one is given, or a regular expression's groups."""

    name = "parse"
    options = ParseOptions
    expressions = {"text": "text"}

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> Any:
        text = evaluate(node, "text", options.text, "text", ctx)
        if options.format == "regex":
            found = re.search(options.pattern, text)
            if found is None:
                raise ValueError(f"node {node!r}: {options.pattern!r} does not match {text!r:.300}")
            return found.groupdict() or (list(found.groups()) if found.groups() else found[0])
        fenced = _FENCE.search(text)
        raw = fenced[1] if fenced else text
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"node {node!r}: no JSON in {text!r:.300}: {exc}") from None
        if target is not None:
            return target.model_validate(value).model_dump(mode="json")
        return value

    def check(self, node: Node) -> None:
        model = node.target
        if model is not None and not (
            isinstance(model, type) and issubclass(model, pydantic.BaseModel)
        ):
            raise GraphError(f"parse node {node.name!r}: model must be a pydantic model class")
