"""``NodeKind``: what the engine, the spec and the views ask of one kind of node.

A kind is a plug-in: the engine calls it and never asks which kind a node is. Built-in kinds
live next to this module; others register through the ``plait.nodes`` entry point group
(``runtime.nodes.registry``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pydantic

from runtime.errors import GraphError

if TYPE_CHECKING:
    from runtime.nodes.node import Node

Parks = Literal["waiting"]
"""How a node whose inputs are ready can stop its run without executing code: ``waiting``
for a payload someone submits (``client.resume``)."""


@dataclass(frozen=True)
class Call:
    """What one attempt of a node executes: ``fn(**kwargs)``, awaited when ``is_async``."""

    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    is_async: bool = False


class NodeKind:
    """One kind of node. Subclass it, set ``name`` (and ``options`` for a studio form), and
    override what differs from a plain function call.

    Every method receives the ``Node`` it is about; a kind keeps no state of its own, so one
    instance serves every node of its kind.
    """

    name: ClassVar[str]
    """The ``kind`` of its nodes in specs, views and the API."""
    options: ClassVar[type[pydantic.BaseModel] | None] = None
    """The options a node of this kind is configured with; its JSON schema is the form the
    studio renders. ``None``: nothing beyond the common policies."""
    parks: ClassVar[Parks | None] = None
    """Set when nodes of this kind stop the run instead of executing code (``waiting``)."""

    def call(self, node: Node, kwargs: dict[str, Any]) -> Call:
        """What an attempt executes, given the node's arguments by parameter name."""
        raise NotImplementedError(f"node kind {self.name!r} executes no code")

    def load(self, node: Node, value: Any) -> Any:
        """The value downstream nodes receive, from the node's stored output."""
        return value

    def fingerprint(self, node: Node) -> str:
        """Text that changes whenever what the node executes changes (used when the code
        walk of ``runtime.codeversion`` cannot read its target)."""
        return repr(node.target)

    def code_ref(self, node: Node) -> str | None:
        """``module:qualname`` of the code it runs, when it has one (shown in views)."""
        return None

    def describe(self, node: Node) -> dict[str, Any]:
        """Entries this kind adds to the node's spec (a wait node's payload ``schema``)."""
        return {}

    def is_async(self, node: Node) -> bool:
        """Whether its attempts are coroutines (they then run on the event loop)."""
        return False

    def check(self, node: Node) -> None:
        """Refuse a node of this kind as it is added to a graph (``GraphError`` naming what
        is wrong), e.g. a target it cannot call. Its options are validated before."""

    def configured(self, node: Node) -> pydantic.BaseModel | None:
        """The node's options as this kind's ``options`` model (its defaults when none were
        given); ``None`` for a kind without options."""
        if self.options is None:
            return None
        return self.options.model_validate(node.options or {})


def schema_text(schema: type[pydantic.BaseModel] | None) -> str:
    return json.dumps(schema.model_json_schema(), sort_keys=True) if schema else ""


def options_schema(kind: NodeKind) -> Mapping[str, Any]:
    """The JSON schema of a kind's options (``{}`` when it has none)."""
    return kind.options.model_json_schema() if kind.options is not None else {}


def validated_options(kind: NodeKind, node: str, options: Mapping[str, Any] | None) -> dict | None:
    """``options`` checked against the kind's model, as JSON values (``None`` when none are
    given); ``GraphError`` names the node, the kind and each wrong field."""
    if options is None:
        if kind.options is not None:
            validated_options(kind, node, {})  # required fields must be given
        return None
    if kind.options is None:
        raise GraphError(f"node {node!r}: node kind {kind.name!r} takes no options")
    if not isinstance(options, Mapping):
        raise GraphError(
            f"node {node!r}: options of node kind {kind.name!r} are a dict, "
            f"got {type(options).__name__}"
        )
    try:
        model = kind.options.model_validate(dict(options))
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(options)'}: {e['msg']}" for e in exc.errors()
        )
        raise GraphError(
            f"node {node!r}: invalid options for node kind {kind.name!r}: {problems}"
        ) from None
    return model.model_dump(mode="json")
