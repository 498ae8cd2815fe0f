"""The input shape a LangChain runnable declares: a dict with named keys, or one bare value.

LangChain's own ``input_schema`` is the first authority. It cannot see into a lambda (its key
inference reads source, and a lambda's source is a fragment of a line) nor through a branch or a
parallel whose steps are lambdas, so those are followed here the way LangChain composes them:
a sequence takes what its first step takes, a parallel and a branch what any of their parts
take.
"""

from __future__ import annotations

import dis
from typing import Any

_ROOT_ONLY = ["root"]
"""Properties of the schema pydantic makes for an untyped ``RootModel`` (a parallel of steps
with no keys): no keys at all."""


def dict_keys(runnable: Any) -> list[str] | None:
    """The keys a runnable reads from a dict input, or ``None`` when it takes a bare value."""
    schema = runnable.get_input_jsonschema()
    kind = schema.get("type")
    properties = list(schema.get("properties", {}))
    if kind == "object" and properties and properties != _ROOT_ONLY:
        return properties
    if kind is not None and kind != "object":
        return None  # a typed value: an int, a string, a list of messages
    from langchain_core.runnables import (
        RunnableBinding,
        RunnableBranch,
        RunnableLambda,
        RunnableParallel,
        RunnableSequence,
    )

    if isinstance(runnable, RunnableSequence):
        return dict_keys(runnable.first)
    if isinstance(runnable, RunnableBinding):
        return dict_keys(runnable.bound)
    if isinstance(runnable, RunnableParallel):
        return _union(dict_keys(step) for step in runnable.steps__.values())
    if isinstance(runnable, RunnableBranch):
        parts: list[Any] = [runnable.default]
        for condition, branch in runnable.branches:
            parts += [condition, branch]
        return _union(dict_keys(part) for part in parts)
    if isinstance(runnable, RunnableLambda):
        func = getattr(runnable, "func", None) or getattr(runnable, "afunc", None)
        return _subscripted_keys(func)
    if kind == "object":
        return []  # an object without declared keys: still a dict
    return None


def _union(found: Any) -> list[str] | None:
    keys: dict[str, None] = {}
    wants_dict = False
    for part in found:
        if part is not None:
            wants_dict = True
            keys.update(dict.fromkeys(part))
    return list(keys) if wants_dict else None


def _subscripted_keys(func: Any) -> list[str] | None:
    """Constant keys a function reads from its first argument (``d["x"]``, ``d.get("x")``),
    found in its bytecode, so lambdas are read as well as ``def`` functions."""
    code = getattr(func, "__code__", None)
    if code is None or code.co_argcount < 1:
        return None
    first = code.co_varnames[0]
    ops = [i for i in dis.get_instructions(code) if i.opname not in ("CACHE", "PRECALL")]
    keys: dict[str, None] = {}
    for i, op in enumerate(ops[:-2]):
        if op.opname != "LOAD_FAST" or op.argval != first:
            continue
        nxt, after = ops[i + 1], ops[i + 2]
        subscript = after.opname == "BINARY_SUBSCR" or (
            after.opname == "BINARY_OP" and after.argrepr == "[]"
        )
        get = nxt.opname in ("LOAD_METHOD", "LOAD_ATTR") and nxt.argval == "get"
        if nxt.opname == "LOAD_CONST" and isinstance(nxt.argval, str) and subscript:
            keys[nxt.argval] = None
        elif get and after.opname == "LOAD_CONST" and isinstance(after.argval, str):
            keys[after.argval] = None
    return list(keys) or None
