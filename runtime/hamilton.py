"""Hamilton modules as Plait graphs: Hamilton resolves, Plait runs each node durably.

``Graph.from_hamilton("name", *modules, config={...})`` hands the modules to Hamilton's own
``driver.Builder``, so every function modifier (``@extract_columns``, ``@parameterize``,
``@config.when``, ``@check_output``, ``@pipe``, ``@subdag``, ``@does``, ...) is expanded by
Hamilton itself. Each node of the resulting ``FunctionGraph`` becomes one Plait node whose
body is a ``HamiltonStep``: Hamilton's node callable, shipped by value with the graph.

Hamilton is an optional dependency (``plait[hamilton]``) and is imported only here, when a
graph is built from Hamilton modules.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import textwrap
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cloudpickle

from runtime.errors import GraphError

if TYPE_CHECKING:
    from runtime.graph import Graph, Node

_NOT_IDENTIFIER = re.compile(r"\W")
_EMPTY = inspect.Parameter.empty


@dataclass
class HamiltonStep:
    """The body of one Plait node built from a Hamilton node: calls Hamilton's callable."""

    hamilton_name: str
    """The node's name in Hamilton's graph (may contain dots: ``subdag.node``)."""
    callable: Callable[..., Any]
    """Hamilton's node callable: whatever Hamilton would execute for this node."""
    bound: dict[str, Any] = field(default_factory=dict)
    """Dependencies fed from the build ``config`` rather than from run inputs or nodes."""
    source: str = ""
    """Source of the functions this node originates from (part of the graph's version)."""
    type_name: str = ""
    """The node's declared output type, as Hamilton reads it."""
    module: str = ""
    """Module of the user's function the node comes from (what the studio shows as code)."""

    def __post_init__(self) -> None:
        # what Node.code_ref shows: the user's module and the node, not this class
        self.__module__ = self.module or getattr(self.callable, "__module__", None) or __name__
        self.__qualname__ = self.hamilton_name

    def __call__(self, **kwargs: Any) -> Any:
        return self.callable(**self.bound, **kwargs)

    def plait_fingerprint(self) -> str:
        """Text that changes whenever this node's code or configuration changes."""
        return "\0".join(
            [self.hamilton_name, self.type_name, self.source, repr(sorted(self.bound.items()))]
        )

    def plait_source(self) -> str | None:
        """What the studio shows as this node's code: the user's functions it comes from."""
        return self.source or None


def from_hamilton(
    graph: Graph,
    modules: Iterable[types.ModuleType | Sequence[types.ModuleType]],
    config: Mapping[str, Any] | None = None,
) -> Graph:
    """Fill ``graph`` with the nodes Hamilton resolves from ``modules`` under ``config``."""
    # a list of modules (what Hamilton's driver is often given) is as good as several
    given = [m for item in modules for m in (item if isinstance(item, list | tuple) else [item])]
    if not given:
        raise GraphError(f"graph {graph.name!r}: from_hamilton needs at least one module")
    for module in given:
        if not isinstance(module, types.ModuleType):
            raise GraphError(
                f"graph {graph.name!r}: from_hamilton takes modules, got "
                f"{type(module).__name__} {module!r}"
            )
    found = [m for m in given if isinstance(m, types.ModuleType)]  # all of them, for mypy
    config = dict(config or {})
    fn_graph = _resolve(graph.name, found, config)
    _ship_by_value([*found, *_user_modules(fn_graph.nodes.values())])
    names = _plait_names(graph.name, fn_graph.nodes)
    for hnode in fn_graph.nodes.values():
        if hnode.user_defined:
            continue  # external inputs and config: fed to the nodes that need them
        graph._insert(_node(hnode, names, config))
    return graph


def _resolve(name: str, modules: list[types.ModuleType], config: dict[str, Any]) -> Any:
    try:
        from hamilton import driver
    except ImportError as exc:
        raise GraphError(
            f"graph {name!r}: from_hamilton needs Apache Hamilton; install plait[hamilton] "
            f"(pip install 'plait[hamilton]'): {exc}"
        ) from None
    try:
        built = driver.Builder().with_modules(*modules).with_config(config).build()
    except Exception as exc:
        raise GraphError(
            f"graph {name!r}: Hamilton cannot build a graph from "
            f"{', '.join(m.__name__ for m in modules)}: {type(exc).__name__}: {exc}"
        ) from exc
    return built.graph


def _ship_by_value(modules: list[types.ModuleType]) -> None:
    """Workers and ``plait recover`` need the modules' functions, whether or not the modules
    are importable there: the version carries them, as it does a script's code."""
    for module in modules:
        # __main__ is pickled by value anyway; a module must be in sys.modules to register
        if module.__name__ != "__main__" and sys.modules.get(module.__name__) is module:
            cloudpickle.register_pickle_by_value(module)


def _user_modules(hnodes: Iterable[Any]) -> list[types.ModuleType]:
    """Modules of user code the nodes run besides the given ones (a ``@subdag``'s module):
    not Hamilton, not an installed package."""
    found: dict[str, types.ModuleType] = {}
    for hnode in hnodes:
        for fn in hnode.originating_functions or ():
            module = sys.modules.get(getattr(fn, "__module__", "") or "")
            if module is None or module.__name__.split(".")[0] == "hamilton":
                continue
            path = getattr(module, "__file__", None) or ""
            if "site-packages" not in path and "dist-packages" not in path:
                found.setdefault(module.__name__, module)
    return list(found.values())


def _plait_names(graph: str, hnodes: Mapping[str, Any]) -> dict[str, str]:
    """Hamilton name -> Plait node name (an identifier: ``subdag.node`` -> ``subdag__node``)."""
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    for hname in hnodes:
        plait = _NOT_IDENTIFIER.sub("__", hname)
        if plait[:1].isdigit():
            plait = f"_{plait}"
        if plait in taken:
            raise GraphError(
                f"graph {graph!r}: Hamilton nodes {taken[plait]!r} and {hname!r} both map to "
                f"the Plait node name {plait!r}; rename one of them"
            )
        names[hname], taken[plait] = plait, hname
    return names


def _node(hnode: Any, names: dict[str, str], config: dict[str, Any]) -> Node:
    from hamilton.node import DependencyType

    from runtime.graph import Node

    inputs: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    annotations: dict[str, Any] = {}
    bound: dict[str, Any] = {}
    for dep in hnode.dependencies:
        typ, dep_type = hnode.input_types[dep.name]
        if dep.user_defined and dep.name in config:
            bound[dep.name] = config[dep.name]
            continue
        inputs[dep.name] = names[dep.name]
        if dep.user_defined:
            annotations[dep.name] = typ
            if dep_type == DependencyType.OPTIONAL:
                defaults[dep.name] = _default_of(hnode, dep.name)
    step = HamiltonStep(
        hamilton_name=hnode.name,
        callable=hnode.callable,
        bound=bound,
        source=_source(hnode),
        type_name=_type_name(hnode.type),
        module=getattr((hnode.originating_functions or (hnode.callable,))[0], "__module__", ""),
    )
    return Node(
        name=names[hnode.name],
        kind="function",
        target=step,
        inputs=inputs,
        defaults=defaults,
        annotations=annotations,
        # a validator's result is Hamilton's own ValidationResult object
        pickle=True if hnode.tags.get("hamilton.data_quality.contains_dq_results") else None,
        doc=hnode.documentation or "",
    )


def _default_of(hnode: Any, param: str) -> Any:
    """An optional dependency's default, read from the function it came from."""
    for fn in [hnode.callable, *(hnode.originating_functions or ())]:
        try:
            parameter = inspect.signature(fn).parameters.get(param)
        except (TypeError, ValueError):
            continue
        if parameter is not None and parameter.default is not _EMPTY:
            return parameter.default
    return None


def _source(hnode: Any) -> str:
    """Source of the user's functions this node runs: the ones it originates from and any
    reached from Hamilton's callable (a ``@does`` body, ``@pipe`` steps)."""
    found: dict[int, Any] = {}
    for fn in hnode.originating_functions or ():
        found.setdefault(id(fn), fn)
    _reachable(hnode.callable, found, depth=4)
    parts = []
    for fn in found.values():
        try:
            parts.append(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError):
            parts.append(f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', fn)}")
    return "\n".join(parts)


def _reachable(obj: Any, found: dict[int, Any], depth: int) -> None:
    """User functions held by ``obj``: closure cells, partials, and attributes of the small
    objects Hamilton keeps steps in."""
    if depth < 0 or obj is None:
        return
    if isinstance(obj, functools.partial):
        _reachable(obj.func, found, depth - 1)
        for arg in (*obj.args, *obj.keywords.values()):
            _reachable(arg, found, depth - 1)
        return
    if inspect.isfunction(obj):
        if not obj.__module__.startswith("hamilton"):
            found.setdefault(id(obj), obj)
        for cell in obj.__closure__ or ():
            try:
                _reachable(cell.cell_contents, found, depth - 1)
            except ValueError:  # an empty cell
                continue
        return
    if isinstance(obj, list | tuple):
        for item in obj[:50]:
            _reachable(item, found, depth - 1)
        return
    if type(obj).__module__.startswith("hamilton") and hasattr(obj, "__dict__"):
        for value in vars(obj).values():
            _reachable(value, found, depth - 1)


def _type_name(typ: Any) -> str:
    return f"{getattr(typ, '__module__', '')}.{getattr(typ, '__qualname__', repr(typ))}"


def decorator_of(fn: Any) -> str | None:
    """The Hamilton function modifier ``fn`` carries, e.g. ``@extract_columns``; ``None`` for
    a plain function. Hamilton's decorators record themselves in lists on the function
    (``fn.transform``, ``fn.resolve``, ...); reading those needs no Hamilton import."""
    for value in getattr(fn, "__dict__", {}).values():
        for decorator in value if isinstance(value, list) else ():
            kind = type(decorator)
            if kind.__module__.split(".")[0] == "hamilton":
                return "@config.when" if kind.__name__ == "config" else f"@{kind.__name__}"
    return None
