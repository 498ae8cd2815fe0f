"""Which node kinds exist: the built-in ones, and those other packages declare under the
``plait.nodes`` entry point group (``name = "package.module:KindClass"``), loaded on first
use. A kind is looked up by the ``kind`` name its nodes carry."""

from __future__ import annotations

import inspect
import logging
import sys
import threading
from importlib.metadata import entry_points
from typing import Any

from runtime.errors import GraphError
from runtime.nodes.approval import ApprovalKind
from runtime.nodes.branch import BranchKind
from runtime.nodes.code import CodeKind
from runtime.nodes.function import FunctionKind
from runtime.nodes.http import HttpKind
from runtime.nodes.kind import NodeKind, options_schema
from runtime.nodes.llm import LlmKind, PromptKind
from runtime.nodes.map import MapKind
from runtime.nodes.runnable import RunnableKind
from runtime.nodes.sleep import SleepKind
from runtime.nodes.subgraph import SubgraphKind
from runtime.nodes.text import FilterKind, ParseKind, RouterKind, TemplateKind, TransformKind
from runtime.nodes.wait import WaitKind

log = logging.getLogger("plait.nodes")

ENTRY_POINT_GROUP = "plait.nodes"

_kinds: dict[str, NodeKind] = {
    k.name: k
    for k in (
        FunctionKind(),
        RunnableKind(),
        WaitKind(),
        ApprovalKind(),
        SleepKind(),
        BranchKind(),
        SubgraphKind(),
        MapKind(),
        TemplateKind(),
        TransformKind(),
        FilterKind(),
        RouterKind(),
        ParseKind(),
        HttpKind(),
        CodeKind(),
        PromptKind(),
        LlmKind(),
    )
}
_plugins_loaded = False
_lock = threading.Lock()


def register(kind: NodeKind | type[NodeKind]) -> NodeKind:
    """Make a kind known under its ``name`` (a class is instantiated). Registering another
    kind under a taken name is refused; the same class again is a no-op."""
    instance = kind() if isinstance(kind, type) else kind
    name = getattr(instance, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise GraphError(f"node kind {type(instance).__name__}: name must be an identifier")
    with _lock:
        known = _kinds.get(name)
        if known is not None and type(known) is not type(instance):
            raise GraphError(
                f"node kind {name!r} is taken by {type(known).__module__}."
                f"{type(known).__qualname__}"
            )
        _kinds.setdefault(name, instance)
        return _kinds[name]


def kind_of(name: str) -> NodeKind:
    """The kind registered under ``name``; ``GraphError`` names the known ones otherwise."""
    found = _kinds.get(name)
    if found is None:
        _load_plugins()
        found = _kinds.get(name)
    if found is None:
        raise GraphError(f"unknown node kind {name!r} (known: {', '.join(sorted(kinds()))})")
    return found


def kinds() -> dict[str, NodeKind]:
    """Every kind known here, plug-ins included."""
    _load_plugins()
    return dict(_kinds)


def described() -> list[dict[str, Any]]:
    """Every known kind as the studio lists it: ``name``, ``doc`` (the first paragraph of its
    docstring), ``options`` (the JSON schema of its options, ``{}`` when none) and ``parks``
    (``waiting`` for a kind that stops its run instead of executing code)."""
    out = []
    for name, kind in sorted(kinds().items()):
        # its own docstring, else its module's (the built-in kinds document their module)
        module = sys.modules.get(type(kind).__module__)
        doc = inspect.cleandoc(
            type(kind).__dict__.get("__doc__") or (module and module.__doc__) or ""
        )
        out.append(
            {
                "name": name,
                "doc": doc.split("\n\n")[0].strip(),
                "options": dict(options_schema(kind)),
                "parks": kind.parks,
            }
        )
    return out


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = point.load()
        except Exception as exc:  # one broken plug-in must not stop the others
            log.error("node kind plug-in %s (%s) does not load: %s", point.name, point.value, exc)
            continue
        is_kind = isinstance(loaded, type) and issubclass(loaded, NodeKind)
        if not (is_kind or isinstance(loaded, NodeKind)):
            log.error("node kind plug-in %s is %r, not a NodeKind", point.name, loaded)
            continue
        try:
            register(loaded)
        except GraphError as exc:
            log.error("node kind plug-in %s: %s", point.name, exc)
