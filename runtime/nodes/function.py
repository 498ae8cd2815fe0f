"""``function``: a sync or async Python callable, called with its parameters by name."""

from __future__ import annotations

import inspect
import textwrap
from typing import TYPE_CHECKING, Any

from runtime.errors import GraphError
from runtime.nodes.kind import Call, NodeKind

if TYPE_CHECKING:
    from runtime.nodes.node import Node


class FunctionKind(NodeKind):
    name = "function"

    def call(self, node: Node, kwargs: dict[str, Any]) -> Call:
        return Call(node.target, kwargs, self.is_async(node))  # type: ignore[arg-type]

    def check(self, node: Node) -> None:
        if not callable(node.target):
            raise GraphError(f"node {node.name!r}: a function node needs a callable target")

    def is_async(self, node: Node) -> bool:
        return inspect.iscoroutinefunction(node.target)

    def code_ref(self, node: Node) -> str | None:
        module = getattr(node.target, "__module__", None)
        qualname = getattr(node.target, "__qualname__", None)
        return f"{module}:{qualname}" if module and qualname else None

    def source(self, node: Node) -> str | None:
        fn = node.target
        custom = getattr(fn, "plait_source", None)
        if callable(custom):  # a node body that knows its source (runtime.hamilton)
            shown = custom()
            return None if shown is None else str(shown)
        if callable(getattr(fn, "plait_fingerprint", None)):
            # versioned by a fingerprint of its own (a test fake): its wrapper's source is
            # not the code it stands for
            return None
        try:
            return textwrap.dedent(inspect.getsource(fn))  # type: ignore[arg-type]
        except (OSError, TypeError):  # built in, a callable object, typed into a console
            return None

    def fingerprint(self, node: Node) -> str:
        fn = node.target
        custom = getattr(fn, "plait_fingerprint", None)
        if callable(custom):  # a node body that knows what its code is (runtime.hamilton)
            return str(custom())
        try:
            return textwrap.dedent(inspect.getsource(fn))  # type: ignore[arg-type]
        except (OSError, TypeError):
            code = getattr(fn, "__code__", None)
            if code is None:
                return repr(fn)
            return code.co_code.hex() + repr(code.co_consts)
