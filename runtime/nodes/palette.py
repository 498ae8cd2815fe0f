"""``rt.nodes.template(...)``, ``rt.nodes.http(...)`` and their siblings: each checks its
options against its kind's model now and returns a ``Spec`` for ``g.add(name, spec)``."""

from __future__ import annotations

from typing import Any

from runtime.nodes.http import HttpKind
from runtime.nodes.library import Spec, spec
from runtime.nodes.text import FilterKind, ParseKind, RouterKind, TemplateKind, TransformKind


def template(template: str, **options: Any) -> Spec:
    """Jinja2 text (sandboxed) over ``inputs.x`` and ``nodes.X.output``; text out."""
    return spec(TemplateKind, template=template, **options)


def transform(expression: str, *, language: str = "jmespath", **options: Any) -> Spec:
    """A JMESPath (or, with ``language="jinja"``, Jinja2) expression; JSON out."""
    return spec(TransformKind, expression=expression, language=language, **options)


def filter(condition: str, **options: Any) -> Spec:
    """Its successors run only when the Jinja2 ``condition`` holds."""
    return spec(FilterKind, condition=condition, **options)


def router(routes: dict[str, str] | None = None, **options: Any) -> Spec:
    """``routes``: successor -> Jinja2 condition (or ``expression=`` giving names)."""
    return spec(RouterKind, routes=routes or {}, **options)


def parse(text: str, *, format: str = "json", model: Any = None, **options: Any) -> Spec:
    """JSON (checked against the pydantic ``model`` when given) or ``format="regex"`` with a
    ``pattern``, from ``text`` (an expression)."""
    return spec(ParseKind, model, text=text, format=format, **options)


def http(url: str, *, method: str = "GET", **options: Any) -> Spec:
    """One HTTP request: ``url``, ``headers``, ``query``, ``json`` / ``form`` / ``body``
    (each may hold expressions), ``auth={"type": "bearer", "secret": "API_TOKEN"}``,
    ``timeout``, ``retries`` (connect errors, timeouts, 5xx, 429 with ``Retry-After``)."""
    return spec(HttpKind, url=url, method=method.upper(), **options)
