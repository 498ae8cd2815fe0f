"""``wait``: a human's answer. The run parks ``waiting`` until a payload matching the node's
schema is submitted; downstream nodes receive it validated (the model, or a dict when the
schema was given as one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.errors import GraphError
from runtime.nodes.kind import NodeKind, schema_text

if TYPE_CHECKING:
    from runtime.nodes.node import Node


class WaitKind(NodeKind):
    name = "wait"
    parks = "waiting"

    def load(self, node: Node, value: Any) -> Any:
        if node.schema is None:
            return value
        model = node.schema.model_validate(value)
        return model.model_dump() if node.payload_as_dict else model

    def fingerprint(self, node: Node) -> str:
        return schema_text(node.schema)

    def check(self, node: Node) -> None:
        if node.schema is None:
            raise GraphError(
                f"node {node.name!r}: a wait node needs a payload schema; add it with "
                f"g.wait({node.name!r}, schema)"
            )

    def describe(self, node: Node) -> dict[str, Any]:
        return {"schema": node.schema.model_json_schema()} if node.schema is not None else {}
