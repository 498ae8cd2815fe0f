"""What an ``llm`` node's tools are, and how a stored spec names them.

A tool is a LangChain tool, a plain named function, or another node: ``rt.nodes.tool(name,
rt.nodes.http(...))`` runs that library node's own code with the model's arguments (the run
inputs its expressions name, ``inputs.q``, or a code node's ``main`` parameters). The loop
(``runtime.nodes.llm_tools``) journals a node tool's result like any other's.

In the spec each tool is a ``ToolRef``: a node tool with its kind and options (so it rebuilds
from JSON alone), a Python tool by its registered name (``rt.nodes.register_tool``) or, to
say what it was, its import path (``"package.module:name"``). A Python tool runs where it was
given (it ships with the graph's signed code); a graph rebuilt from its spec finds it only by a
registered name and never imports what a spec names (a spec is JSON a draft or an imported
file may hold: an import path could name any function of the host).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from runtime.errors import GraphError

if TYPE_CHECKING:
    from runtime.nodes.library import Spec
    from runtime.nodes.node import Node


class ToolNode(pydantic.BaseModel):
    """A library node run as a tool: its kind and options, as in a graph's spec."""

    model_config = pydantic.ConfigDict(extra="forbid")
    kind: str
    options: dict[str, Any] = pydantic.Field(default_factory=dict)


class ToolRef(pydantic.BaseModel):
    """One tool of an ``llm`` node, as its options (and so its spec) hold it."""

    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = pydantic.Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
    """What the model calls it."""
    description: str = ""
    """What the model is told it does (a node tool: its kind's doc when empty)."""
    node: ToolNode | None = None
    """A library node to run with the model's arguments."""
    ref: str | None = None
    """A Python tool: a name registered with ``rt.nodes.register_tool`` or an import path
    ``"package.module:attr"``. ``None``: a Python object held by the graph's code only."""


@dataclass(frozen=True)
class Tool:
    """What ``rt.nodes.tool(...)`` returns, for ``rt.nodes.llm(tools=[...])``."""

    name: str
    target: Any
    """A library node's ``Spec``, a function or a LangChain tool."""
    description: str = ""


_registered: dict[str, Any] = {}
_lock = threading.Lock()


def register_tool(name: str, tool: Any) -> None:
    """Make a function or LangChain tool known as ``name``, so that a stored spec naming it
    (``{"name": ..., "ref": name}``) rebuilds in this process. Another object under a taken
    name is refused; the same one again is a no-op."""
    if not isinstance(name, str) or not name or ":" in name:
        raise GraphError(f"rt.nodes.register_tool: name must be a word without ':', got {name!r}")
    if not callable(tool) and not _is_langchain_tool(tool):
        raise GraphError(f"rt.nodes.register_tool({name!r}): {tool!r} is no function or tool")
    with _lock:
        known = _registered.get(name)
        if known is not None and known is not tool:
            raise GraphError(f"rt.nodes.register_tool: a tool is registered as {name!r} already")
        _registered[name] = tool


def tool(name: str, target: Any, *, description: str = "") -> Tool:
    """``target`` (a library node's spec such as ``rt.nodes.http(...)``, a function, or a
    LangChain tool) as a tool the model calls ``name``."""
    from runtime.nodes.library import Spec

    ToolRef(name=name)  # the name's shape, checked now
    if isinstance(target, Spec):
        if target.target is not None:
            raise GraphError(
                f"rt.nodes.tool({name!r}): a {target.kind} node holding Python objects (a "
                "chat model, a pydantic model) cannot be a tool; give its options as JSON"
            )
        return Tool(name, target, description)
    if callable(target) or _is_langchain_tool(target):
        return Tool(name, target, description)
    raise GraphError(
        f"rt.nodes.tool({name!r}): {type(target).__name__} is no library node, function or "
        "LangChain tool"
    )


def split(node: str, tools: Sequence[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """``rt.nodes.llm``'s ``tools`` as the refs its options hold and the Python tools its
    target holds (LangChain tools, functions made into ones)."""
    from runtime.nodes.library import Spec
    from runtime.nodes.llm_tools import as_tool

    refs: list[dict[str, Any]] = []
    held: list[Any] = []
    for i, given in enumerate(tools):
        if isinstance(given, Spec):
            raise GraphError(
                f"{node}: tools[{i}] is a {given.kind} node: name it for the model with "
                f"rt.nodes.tool('name', rt.nodes.{given.kind}(...), description=...)"
            )
        if isinstance(given, Tool) and isinstance(given.target, Spec):
            spec: Spec = given.target
            ref = ToolRef(
                name=given.name,
                description=given.description,
                node=ToolNode(kind=spec.kind, options=spec.options),
            )
            refs.append(ref.model_dump(exclude_defaults=True))
            continue
        obj = given.target if isinstance(given, Tool) else given
        made = as_tool(node, i, obj)
        if isinstance(given, Tool):
            made = made.model_copy(
                update={"name": given.name, "description": given.description or made.description}
            )
        held.append(made)
        described = given.description if isinstance(given, Tool) else ""
        ref = ToolRef(name=made.name, description=described, ref=reference(obj))
        refs.append(ref.model_dump(exclude_defaults=True))
    names = [r["name"] for r in refs]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise GraphError(f"{node}: two tools are named {', '.join(map(repr, dupes))}")
    return refs, held


def reference(obj: Any) -> str | None:
    """How another process finds ``obj``: its registered name, else ``module:qualname``
    when that names this very object; ``None`` when neither does (a lambda's, a notebook's
    or a closure's)."""
    with _lock:
        for name, known in _registered.items():
            if known is obj:
                return name
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "name", None)
    if _is_langchain_tool(obj) and getattr(obj, "func", None) is not None:
        module = obj.func.__module__  # a @tool: the module attribute is the tool itself
        qualname = obj.func.__qualname__
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    found = _attribute(sys.modules.get(module), qualname)
    return f"{module}:{qualname}" if found is obj else None


def resolve(llm: str, refs: Sequence[dict[str, Any]], held: Sequence[Any]) -> list[Any]:
    """The LangChain tools an ``llm`` node's loop binds: node tools made from their config,
    Python ones from the target or else found by reference. ``GraphError`` names a tool
    that cannot be found."""
    by_name = {t.name: t for t in held}
    if not refs:  # a graph stored before tools were in the options
        return list(held)
    out = []
    for raw in refs:
        ref = ToolRef.model_validate(raw)
        if ref.node is not None:
            out.append(node_tool(llm, ref))
        elif ref.name in by_name:
            out.append(by_name[ref.name])
        else:
            out.append(_found(llm, ref))
    return out


def _found(llm: str, ref: ToolRef) -> Any:
    from runtime.nodes.llm_tools import as_tool

    where = f"llm node {llm!r}: tool {ref.name!r}"
    if ref.ref is None:
        raise GraphError(
            f"{where} is a Python object with no registered name or import path (a lambda's, "
            "a notebook's or a closure's): register it with rt.nodes.register_tool"
            f"({ref.name!r}, fn) where the graph is rebuilt, or define it in a module"
        )
    with _lock:
        obj = _registered.get(ref.ref) or _registered.get(ref.name)
    if obj is None and ":" in ref.ref:
        # a spec is JSON anyone with a draft or an import file may write: importing what it
        # names would run any function of the host outside the sandbox
        raise GraphError(
            f"{where}: {ref.ref!r} is an import path, and a graph rebuilt from a spec imports "
            f"no code: register the tool with rt.nodes.register_tool({ref.name!r}, fn) in the "
            "processes that rebuild and run the graph"
        )
    if obj is None:
        raise GraphError(
            f"{where}: no tool is registered as {ref.ref!r} in this process "
            "(rt.nodes.register_tool)"
        )
    made = as_tool(where, 0, obj)
    update: dict[str, Any] = {"name": ref.name}
    if ref.description:
        update["description"] = ref.description
    return made.model_copy(update=update)


def node_tool(llm: str, ref: ToolRef) -> Any:
    """A LangChain tool that runs the library node ``ref.node`` with the model's arguments:
    its kind's own call, as an attempt of that node would make it."""
    from langchain_core.tools import StructuredTool

    node, params = tool_node(llm, ref)
    impl = node.kind_impl
    fields: dict[str, Any] = {
        p: (node.annotations.get(p, Any), node.defaults.get(p, ...)) for p in params
    }
    args = pydantic.create_model(f"{ref.name}_arguments", **fields)

    def run(**kwargs: Any) -> str:
        call = impl.call(node, {p: kwargs.get(p, node.defaults.get(p)) for p in params})
        value = call.fn(**call.kwargs)
        return value if isinstance(value, str) else json.dumps(value, default=str)

    first = (type(impl).__doc__ or "").strip().split("\n\n")[0]
    return StructuredTool(
        name=ref.name,
        description=ref.description or first or f"The {node.kind} node {ref.name}.",
        args_schema=args,
        func=run,
    )


def tool_node(llm: str, ref: ToolRef) -> tuple[Node, list[str]]:
    """The node a node tool runs (built as ``g.add_node`` builds one, outside any graph) and
    its parameters, which the model gives."""
    from runtime.nodes.kind import validated_options
    from runtime.nodes.node import Node
    from runtime.nodes.registry import kind_of

    assert ref.node is not None
    where = f"llm node {llm!r}: tool {ref.name!r}"
    try:
        impl = kind_of(ref.node.kind)
    except GraphError as exc:
        raise GraphError(f"{where}: {exc}") from None
    if impl.options is None or impl.parks or impl.drives or impl.routes:
        raise GraphError(
            f"{where}: {'an' if impl.name[:1] in 'aeiou' else 'a'} {impl.name} node cannot be "
            "a tool (a tool is a library node that "
            "runs from its options: http, code, template, transform, ...)"
        )
    node = Node(name=f"{llm}.{ref.name}", kind=impl.name, target=None, inputs={})
    try:
        node.options = validated_options(impl, node.name, ref.node.options)
        impl.prepare(node)
        impl.check(node)
    except GraphError as exc:
        raise GraphError(f"{where}: {exc}") from None
    named = sorted(s for s, (what, _) in node.expects.items() if what == "node")
    if named:
        raise GraphError(
            f"{where}: its options name node(s) {', '.join(map(repr, named))}; a tool sees only "
            "the model's arguments (name them inputs.x)"
        )
    return node, list(node.inputs)


def node_tool_secrets(llm: str, refs: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The stored secrets the node tools among ``refs`` read (an http tool's ``auth``)."""
    out: list[str] = []
    for raw in refs:
        ref = ToolRef.model_validate(raw)
        if ref.node is not None:
            out += [s for s in tool_node(llm, ref)[0].secrets if s not in out]
    return tuple(out)


def _attribute(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _is_langchain_tool(obj: Any) -> bool:
    from langchain_core.tools import BaseTool

    return isinstance(obj, BaseTool)
