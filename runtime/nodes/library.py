"""What the ready-made node kinds (``template``, ``transform``, ``filter``, ``router``,
``parse``, ``http``, ``prompt``, ``llm``, ``approval``; ``code`` uses
only ``spec``) share: a pydantic options model whose
fields may hold expressions (``runtime.nodes.expressions``), the wiring those expressions
imply, and ``Spec``, what ``rt.nodes.http(...)`` and its siblings return for ``g.add``.

A library node's parameters are the names its expressions use: ``nodes.fetch.output`` makes
the parameter ``fetch``, fed by node ``fetch``; ``inputs.city`` the parameter ``city``, fed by
the run input ``city`` (typed ``str`` unless ``input_types`` says otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pydantic

from runtime.errors import GraphError
from runtime.nodes.expressions import Language, Refs, context, field_refs, references
from runtime.nodes.kind import Call, NodeKind, options_schema
from runtime.nodes.secret_options import named_secrets

if TYPE_CHECKING:
    from runtime.graph import Graph
    from runtime.nodes.node import Node

InputType = Literal["str", "int", "float", "bool", "dict", "list", "any"]
_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "dict": dict,
    "list": list,
    "any": Any,
}


class LibraryOptions(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    input_types: dict[str, InputType] = pydantic.Field(
        default_factory=dict,
        description="Types of the run inputs its expressions name (str when not listed).",
    )


@dataclass(frozen=True)
class Spec:
    """A library node not yet in a graph: its kind, its options (checked already) and, for
    what is no JSON (a chat model object, a pydantic model), its target. ``g.add(name,
    spec)`` adds it; the graph's spec holds its kind and options as for any node."""

    kind: str
    options: dict[str, Any]
    target: Any = None

    def add_to(self, graph: Graph, name: str, **policies: Any) -> Node:
        """Add it to ``graph`` under ``name`` with ``g.add``'s policies."""
        join = policies.pop("join", "all")
        inputs = policies.pop("inputs", None)
        node = graph.add_node(
            name,
            self.kind,
            target=self.target,
            options=self.options,
            inputs=dict(inputs or {}),  # not None: the target is never wired by signature
            **policies,
        )
        node.join = join
        return node


def spec(kind: type[NodeKind], target: Any = None, **options: Any) -> Spec:
    """A ``Spec`` of ``kind`` whose options are checked now (``GraphError`` naming each
    wrong field)."""
    assert kind.options is not None
    try:
        model = kind.options.model_validate(options)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(options)'}: {e['msg']}" for e in exc.errors()
        )
        raise GraphError(f"rt.nodes.{kind.name}(...): {problems}") from None
    return Spec(
        kind.name, model.model_dump(mode="json", exclude_defaults=True, by_alias=True), target
    )


class LibraryKind(NodeKind):
    """A kind whose options may hold expressions. Subclasses list them in ``expressions``
    (field -> language; ``text`` fields may be dicts and lists of text) and implement
    ``run``."""

    expressions: ClassVar[dict[str, Language]] = {}

    def named(self, node: str, opts: Any) -> Refs:
        """The nodes and inputs the expressions of ``opts`` name."""
        refs = Refs()
        for name, language in self.expressions.items():
            value = getattr(opts, name)
            if value is None:
                continue
            if language == "text":
                refs.add(field_refs(node, value, name))
            else:
                refs.add(references(node, name, value, language))
        return refs

    def prepare(self, node: Node) -> None:
        opts = self.configured(node)
        # the secrets its options name (fields marked ``secret-name``) are declared for it,
        # after those given: only a declared secret is decrypted for the node's attempt
        named = named_secrets(options_schema(self), node.options or {})
        node.secrets = (*node.secrets, *(s for s in named if s not in node.secrets))
        refs = self.named(node.name, opts)
        for source, where in refs.nodes.items():
            node.inputs.setdefault(source, source)
            node.expects[source] = ("node", where)
        types: Mapping[str, str] = getattr(opts, "input_types", {})
        for source, where in refs.inputs.items():
            node.inputs.setdefault(source, source)
            node.expects[source] = ("input", where)
            node.annotations[source] = _TYPES[types.get(source, "str")]

    def call(self, node: Node, kwargs: dict[str, Any]) -> Call:
        nodes = [s for s, (what, _) in node.expects.items() if what == "node"]
        inputs = [s for s, (what, _) in node.expects.items() if what == "input"]
        return Call(
            execute,
            {
                "kind": self.name,
                "node": node.name,
                "options": node.options or {},
                "target": node.target,
                "ctx": context(nodes, inputs, kwargs),
                "values": kwargs,
            },
        )

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> Any:
        """The node's output, given its options (the model), its target, what its
        expressions see and its arguments by parameter name."""
        raise NotImplementedError

    def fingerprint(self, node: Node) -> str:
        return json.dumps(node.options or {}, sort_keys=True) + repr(node.target)


def execute(kind: str, node: str, options: dict, target: Any, ctx: dict, values: dict) -> Any:
    """What an attempt of a library node calls: a module-level function, so that a child
    process (``isolation="process"``) can receive it."""
    from runtime.nodes.registry import kind_of

    impl = kind_of(kind)
    assert isinstance(impl, LibraryKind) and impl.options is not None
    return impl.run(node, impl.options.model_validate(options), target, ctx, values)


def successors_named(node: Node, names: Iterable[str], choices: Iterable[str], what: str) -> None:
    """``GraphError`` when ``names`` (routes a router declares) are not among ``choices``."""
    known = list(choices)
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        raise GraphError(
            f"{node.kind} {node.name!r}: {what} names {', '.join(map(repr, unknown))}, not "
            f"among its successors ({', '.join(known) or 'none'})"
        )
