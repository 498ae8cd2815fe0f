"""``rt.nodes.template(...)``, ``rt.nodes.http(...)`` and their siblings: each checks its
options against its kind's model now and returns a ``Spec`` for ``g.add(name, spec)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.errors import GraphError
from runtime.nodes.code import CodeKind
from runtime.nodes.http import HttpKind
from runtime.nodes.library import Spec, spec
from runtime.nodes.llm import LlmKind, LlmTarget, PromptKind
from runtime.nodes.text import FilterKind, ParseKind, RouterKind, TemplateKind, TransformKind
from runtime.nodes.tools import split as split_tools


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


def code(source: str, *, timeout: float = 30.0, memory_mb: int = 256, **options: Any) -> Spec:
    """Python defining ``main(...)`` (parameters wired like a function node's), run in a
    sandbox process: ``timeout`` wall-clock seconds, ``memory_mb`` of address space, no
    network, no environment, a scratch directory; ``cpu_seconds``, ``max_processes``,
    ``max_file_mb``, ``max_output_kb``."""
    return spec(CodeKind, source=source, timeout=timeout, memory_mb=memory_mb, **options)


def prompt(template: str | None = None, *, messages: Any = None, **options: Any) -> Spec:
    """A string template (text out) or a chat template, ``messages=[("system", "..."),
    ("user", "{{ inputs.question }}")]`` (chat messages out)."""
    if messages is not None:
        messages = [_message(m) for m in messages]
    return spec(PromptKind, template=template, messages=messages, **options)


def llm(
    model: Any,
    prompt: str | None = None,
    *,
    schema: Any = None,
    tools: Sequence[Any] | None = None,
    **options: Any,
) -> Spec:
    """One chat model call. ``model``: a LangChain chat model object or a
    ``"provider:model"`` string (``init_chat_model``, key from ``api_key_secret``);
    ``prompt``/``system``/``messages``: templates; ``schema``: a pydantic model or a JSON
    schema for structured output; ``tools``: LangChain tools, plain functions or
    ``rt.nodes.tool(name, node_or_fn)`` (another node run with the model's arguments),
    called in a journaled loop of at most ``max_steps`` model turns."""
    if "messages" in options and options["messages"] is not None:
        options["messages"] = [_message(m) for m in options["messages"]]
    is_model = isinstance(schema, type)
    if isinstance(tools, str) or (tools is not None and not isinstance(tools, Sequence)):
        raise GraphError(
            "rt.nodes.llm(...): tools is a list of LangChain tools, functions or "
            "rt.nodes.tool(...)s"
        )
    refs, held = split_tools("rt.nodes.llm(...)", list(tools or []))
    if refs:
        options["tools"] = refs
    target = None
    if not isinstance(model, str) or is_model or held:
        target = LlmTarget(
            model=None if isinstance(model, str) else model,
            schema_model=schema if is_model else None,
            tools=held,
        )
    return spec(
        LlmKind,
        target,
        model=model if isinstance(model, str) else None,
        prompt=prompt,
        schema=None if is_model else schema,
        **options,
    )


def _message(m: Any) -> Any:
    if isinstance(m, tuple | list) and len(m) == 2:
        return {"role": m[0], "content": m[1]}
    return m
