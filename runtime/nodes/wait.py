"""``wait``: a human's answer. The run parks ``waiting`` until a payload matching the node's
schema is submitted; downstream nodes receive it validated (the model, or a dict when the
schema was given as one). With a ``timeout`` it waits that long: then it takes its
``default`` answer, or fails with ``TimeoutError`` when it has none."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from runtime.errors import GraphError
from runtime.nodes.kind import NodeKind, Woken, schema_text

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
        entry = {"schema": node.schema.model_json_schema()} if node.schema is not None else {}
        if "default" in node.config:  # only then: versions of waits without one stay
            entry["timeout_default"] = node.config["default"]
        return entry

    def wake_at(self, node: Node, now: dt.datetime, kwargs: dict[str, Any]) -> dt.datetime | None:
        return None if node.timeout is None else now + dt.timedelta(seconds=node.timeout)

    def woken(self, node: Node, wake_at: dt.datetime) -> Woken | None:
        return Woken(node.config["default"]) if "default" in node.config else None
