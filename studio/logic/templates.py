"""Workflows a newcomer can start from: built of library nodes only, so they publish and
run without any code of theirs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import runtime as rt


@dataclass(frozen=True)
class Template:
    name: str
    """The workflow it publishes as."""
    title: str
    description: str
    build: Callable[[], rt.Graph]


def hello() -> rt.Graph:
    g = rt.Graph("hello_template", description="A greeting from a template, then shouted.")
    g.add("greeting", rt.nodes.template(template="Hello {{ inputs.who }}!"))
    g.add("shout", rt.nodes.template(template="{{ nodes.greeting.output | upper }}"))
    return g


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "hello_template",
            "Hello, template",
            "Two template nodes: a run input, a greeting, the greeting shouted.",
            hello,
        ),
    )
}

PUBLISH_SNIPPET = """import runtime as rt
client = rt.connect()       # this studio's store (PLAIT_DATABASE_URL)
client.publish(graph)       # any rt.Graph of yours: it appears here"""
"""The three lines that publish a graph from a notebook."""


def template(name: str) -> Template:
    """The template called ``name``; a ``KeyError`` that names the ones there are."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise KeyError(f"no template {name!r}; there are: {', '.join(TEMPLATES)}") from None
