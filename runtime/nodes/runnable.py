"""``runnable``: a LangChain runnable, invoked (async) with the dict of its inputs or with its
one input's bare value, as its input schema declares (``runtime.runnables``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from runtime.nodes.kind import Call, NodeKind

if TYPE_CHECKING:
    from runtime.nodes.node import Node


class RunnableKind(NodeKind):
    name = "runnable"

    def call(self, node: Node, kwargs: dict[str, Any]) -> Call:
        return Call(node.target.ainvoke, {"input": payload(node, kwargs)}, True)  # type: ignore[union-attr]

    def is_async(self, node: Node) -> bool:
        return True

    def fingerprint(self, node: Node) -> str:
        try:
            return json.dumps(node.target.to_json(), sort_keys=True, default=repr)  # type: ignore[union-attr]
        except Exception:
            return repr(node.target)


def payload(node: Node, kwargs: dict[str, Any]) -> Any:
    """What a runnable is invoked with: the dict of its inputs, or the one value (as its
    input schema declares)."""
    as_dict = len(node.inputs) != 1 if node.input_as_dict is None else node.input_as_dict
    return kwargs if as_dict else next(iter(kwargs.values()))
