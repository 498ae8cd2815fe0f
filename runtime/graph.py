"""Graph and Node: how a workflow is declared, validated, described (spec) and versioned.

A function's signature is its wiring: a parameter named like another node is an edge,
any other parameter is a run input.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import pydantic

from runtime.errors import GraphError, InputError
from runtime.nodes import ISOLATIONS, JOINS, Isolation, Join, Node, kind_of, validated_options
from runtime.nodes.branch import BranchKind, choices_of
from runtime.nodes.function import FunctionKind
from runtime.nodes.library import Spec
from runtime.nodes.runnable import RunnableKind
from runtime.nodes.sleep import SleepKind, sleep_config
from runtime.nodes.subgraph import Subgraph, SubgraphKind
from runtime.nodes.wait import WaitKind
from runtime.schedules import Declared

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable


_REQUIRED = inspect.Parameter.empty

SOURCE_CAP = 64 * 1024
"""Longest node source kept with a version, in characters. A version row is read whole
wherever a run of it starts and its sources go to browsers; any hand-written function fits,
while a generated one (a huge table literal) would bloat every read, and a cut text could
not be compared. A longer one is not recorded: the diff then falls back to the digests."""


@dataclass(frozen=True)
class Plan:
    """What validation derives from a graph: order, dependencies and run inputs."""

    order: tuple[str, ...]
    """Topological order (stable: ties keep declaration order)."""
    deps: dict[str, tuple[str, ...]]
    """Node -> nodes it waits for (value edges and ``after``)."""
    successors: dict[str, tuple[str, ...]]
    run_inputs: dict[str, Any]
    """Run input name -> default (``inspect.Parameter.empty`` when required)."""
    sinks: tuple[str, ...]
    """Nodes nothing depends on: their values are the run's outputs."""
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Branch (``routes``) node -> the successors it chooses among
    (``runtime.nodes.branch.choices_of``)."""


class Graph:
    """A named DAG of nodes.

    >>> g = Graph("hello")
    >>> @g.node
    ... def greeting(name: str = "world") -> str:
    ...     return f"hello {name}"
    """

    def __init__(
        self,
        name: str,
        *,
        pickle: bool = False,
        isolation: Isolation | None = None,
        description: str = "",
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise GraphError("a graph needs a non-empty name")
        _check_isolation(f"graph {name!r}", isolation)
        self.name = name
        self.pickle = pickle
        self.isolation = isolation
        self.description = description
        self.nodes: dict[str, Node] = {}
        self.collected = False
        """Built by ``from_functions`` from whatever a module holds (not by ``@g.node``)."""
        self.schedules: list[Declared] = []
        """Cron triggers declared with ``schedule``; stored when the graph is published."""

    # -- building ---------------------------------------------------------------------------

    def schedule(
        self,
        cron: str,
        *,
        tz: str = "UTC",
        inputs: Mapping[str, Any] | None = None,
        overlap: str = "skip",
        catchup: int = 1,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a cron trigger of this graph (``"*/5 * * * *"`` read in ``tz``), stored
        when the graph is published. Checked now (``CronError``, ``ScheduleError``). Used as
        a decorator, the function it decorates becomes a node as with ``@g.node``."""
        declared = Declared(cron, tz, dict(inputs or {}), overlap, catchup)
        if declared not in self.schedules:
            self.schedules.append(declared)

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            return self.node(f)

        return register

    def node(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        timeout: float | None = None,
        pickle: bool | None = None,
        isolation: Isolation | None = None,
        max_interruptions: int = 3,
        inputs: Mapping[str, str] | None = None,
        after: Iterable[str] = (),
        secrets: Iterable[str] = (),
        join: Join = "all",
        cache: bool | dt.timedelta = False,
    ) -> Any:
        """Decorator: add a function as a node. Usable bare (``@g.node``) or with options.
        ``join="any"``: run once the inputs on taken branch paths are done, with ``None`` (or
        the parameter's default) for those on untaken ones (``runtime.nodes.node.Join``).
        ``cache=True`` (or a ``timedelta``, how long an entry serves): reuse the output of an
        earlier succeeded attempt with the same code and input values (``runtime.cache``)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.add(
                name or f.__name__,
                f,
                inputs=inputs,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
                pickle=pickle,
                isolation=isolation,
                max_interruptions=max_interruptions,
                after=after,
                secrets=secrets,
                join=join,
                cache=cache,
            )
            return f

        return register(fn) if fn is not None else register

    def branch(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        timeout: float | None = None,
        pickle: bool | None = None,
        isolation: Isolation | None = None,
        max_interruptions: int = 3,
        inputs: Mapping[str, str] | None = None,
        after: Iterable[str] = (),
        secrets: Iterable[str] = (),
        join: Join = "all",
    ) -> Any:
        """Decorator: add a function that returns the name (or list of names) of the
        successors to take (``runtime.nodes.branch``); the others are skipped as untaken.
        Usable bare (``@g.branch``) or with ``@g.node``'s options."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            node_name: str = name or str(getattr(f, "__name__", ""))
            if _is_runnable(f) or not callable(f):
                raise GraphError(
                    f"branch {node_name!r}: expected a function returning successor names, "
                    f"got {type(f).__name__}"
                )
            node = self.add(
                node_name,
                f,
                inputs=inputs,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
                pickle=pickle,
                isolation=isolation,
                max_interruptions=max_interruptions,
                after=after,
                secrets=secrets,
                join=join,
            )
            node.kind = BranchKind.name
            return f

        return register(fn) if fn is not None else register

    def add(
        self,
        name: str,
        target: Callable[..., Any] | Runnable | Graph | str | Spec,
        *,
        inputs: Mapping[str, str] | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        timeout: float | None = None,
        pickle: bool | None = None,
        isolation: Isolation | None = None,
        max_interruptions: int = 3,
        after: Iterable[str] = (),
        secrets: Iterable[str] = (),
        join: Join = "all",
        cache: bool | dt.timedelta = False,
    ) -> Node:
        """Add a function, a LangChain runnable or a sub-graph under ``name``.

        ``inputs`` maps a parameter (for a runnable: a key of its input dict; for a sub-graph:
        a run input of the child graph) to the node or run input that feeds it; parameters
        not listed are fed by the node or run input of the same name.

        A sub-graph is another ``Graph`` (published with this one) or a published workflow
        version named ``"workflow@version"`` (``"workflow"``: its current version, pinned
        now). It runs as a child run; the node's output is the child run's outputs dict.

        A library node (``rt.nodes.http(...)``, ``rt.nodes.template(...)``: a ``Spec``) is
        added by kind with its options; its expressions wire it.
        """
        if isinstance(target, Spec):
            _check_cache(name, cache)
            impl = kind_of(target.kind)
            if cache and (impl.parks or impl.drives):
                raise GraphError(
                    f"node {name!r}: {_a(target.kind)} node cannot be cached (it runs no code "
                    "of its own whose output could be reused)"
                )
            node = target.add_to(
                self,
                name,
                inputs=inputs,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
                pickle=pickle,
                isolation=isolation,
                max_interruptions=max_interruptions,
                after=after,
                secrets=secrets,
                join=join,
            )
            node.cache = cache
            return node
        self._check_new_name(name)
        _check_policies(name, retries, backoff, timeout, max_interruptions)
        _check_isolation(f"node {name!r}", isolation)
        if join not in JOINS:
            raise GraphError(f"node {name!r}: join must be one of {', '.join(JOINS)}, got {join!r}")
        declared = _check_secrets(name, secrets)
        _check_cache(name, cache)
        if isinstance(target, Graph | str):
            if cache:
                raise GraphError(
                    f"node {name!r}: a sub-graph node cannot be cached (its child run's nodes can)"
                )
            if timeout is not None:
                raise GraphError(
                    f"node {name!r}: a sub-graph node takes no timeout (its child run's "
                    "nodes take their own; cancel the child run to stop it)"
                )
            node = _subgraph_node(self.name, name, target, inputs)
        elif _is_runnable(target):
            node = _runnable_node(name, target, inputs)  # type: ignore[arg-type]
        elif callable(target):
            node = _function_node(name, target, inputs)
        else:
            raise GraphError(
                f"node {name!r}: expected a function or a LangChain Runnable (or, for a "
                f'sub-graph, a Graph or "workflow@version"), got {type(target).__name__}'
            )
        node.retries, node.backoff, node.timeout, node.pickle = retries, backoff, timeout, pickle
        node.isolation, node.max_interruptions = isolation, max_interruptions
        node.after = tuple(after)
        node.secrets = declared
        node.join = join
        node.cache = cache
        return self._insert(node)

    def map(
        self,
        name: str | Callable[..., Any] | None = None,
        fn: Callable[..., Any] | None = None,
        *,
        over: str,
        concurrency: int = 16,
        on_error: str = "fail",
        retries: int = 0,
        backoff: float = 1.0,
        timeout: float | None = None,
        pickle: bool | None = None,
        inputs: Mapping[str, str] | None = None,
        after: Iterable[str] = (),
    ) -> Any:
        """Add a map node: ``fn`` runs once per element of the list ``over`` (a node or run
        input) gives at run time; its parameter named like ``over`` gets one element, the
        others wire as usual. Each element is its own checkpointed attempt with its own
        ``retries``, ``backoff`` and ``timeout``; at most ``concurrency`` execute at once.
        The node's output is the list of results in input order. ``on_error="fail"``: the
        node fails if any element failed for good, naming the indexes; ``"collect"``: it
        succeeds with ``None`` at the failed indexes and the document ``errors``
        (``{index: "Type: message"}``). Usable as ``g.map("squares", square, over=...)`` or
        as a decorator, ``@g.map(over="numbers")`` (the function's name is the node's)."""
        if callable(name):
            name, fn = None, name

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self._add_map(
                name or f.__name__,
                f,
                over=over,
                concurrency=concurrency,
                on_error=on_error,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
                pickle=pickle,
                inputs=inputs,
                after=after,
            )
            return f

        if fn is None:
            return register
        register(fn)
        return self.nodes[name or fn.__name__]

    def _add_map(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        over: str,
        inputs: Mapping[str, str] | None,
        after: Iterable[str],
        pickle: bool | None,
        **options: Any,
    ) -> Node:
        from runtime.nodes.map import MapKind, MapOptions

        self._check_new_name(name)
        if not callable(fn) or _is_runnable(fn):
            raise GraphError(f"map node {name!r}: expected a function, got {type(fn).__name__}")
        if not isinstance(over, str) or not over.isidentifier():
            raise GraphError(f"map node {name!r}: over must name a node or run input, got {over!r}")
        try:
            opts = MapOptions(over=over, **options)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise GraphError(f"map node {name!r}: {problems}") from None
        if over in (inputs or {}):
            raise GraphError(
                f"map node {name!r}: parameter {over!r} gets the elements of {over!r}; "
                "it cannot be rewired with inputs"
            )
        node = _function_node(name, fn, inputs)
        if over not in node.inputs:
            raise GraphError(
                f"map node {name!r}: {fn.__name__}() has no parameter {over!r} to receive "
                f"one element of {over!r} (parameters are: {', '.join(node.inputs) or 'none'})"
            )
        # no ``body`` key: the versions of function maps keep their hash
        node.kind, node.options = MapKind.name, opts.model_dump(exclude={"body"})
        node.pickle = pickle
        node.annotations.pop(over, None)  # the element's type, not the list's
        node.defaults.pop(over, None)
        node.after = tuple(after)
        return self._insert(node)

    def add_node(
        self,
        name: str,
        kind: str,
        *,
        target: Any = None,
        options: Mapping[str, Any] | None = None,
        inputs: Mapping[str, str] | Iterable[str] | None = None,
        after: Iterable[str] = (),
        retries: int = 0,
        backoff: float = 1.0,
        timeout: float | None = None,
        pickle: bool | None = None,
        isolation: Isolation | None = None,
        max_interruptions: int = 3,
        secrets: Iterable[str] = (),
        description: str = "",
    ) -> Node:
        """Add a node of any registered kind (``runtime.nodes``: a plug-in's come from the
        ``plait.nodes`` entry point group) under ``name``.

        ``options`` are checked against the kind's ``options`` model now (``GraphError``
        naming each wrong field) and are part of the spec and the version. ``inputs`` maps
        a parameter of the kind's call to the node or run input that feeds it (a list of
        names: each fed by the node or run input of that name); without it, a callable
        ``target`` is wired by its signature as with ``add``.
        """
        self._check_new_name(name)
        _check_policies(name, retries, backoff, timeout, max_interruptions)
        _check_isolation(f"node {name!r}", isolation)
        declared = _check_secrets(name, secrets)
        if not isinstance(kind, str):
            raise GraphError(f"node {name!r}: kind must be a node kind's name, got {kind!r}")
        try:
            impl = kind_of(kind)
        except GraphError as exc:
            raise GraphError(f"node {name!r}: {exc}") from None
        wired = _wiring(name, inputs)
        if wired is None and callable(target) and not _is_runnable(target):
            node = _function_node(name, target, None)
            node.kind = impl.name
        else:
            node = Node(name=name, kind=impl.name, target=target, inputs=wired or {})
        node.options = validated_options(impl, name, options)
        node.retries, node.backoff, node.timeout, node.pickle = retries, backoff, timeout, pickle
        node.isolation, node.max_interruptions = isolation, max_interruptions
        node.after = tuple(after)
        node.secrets = declared
        node.doc = description or node.doc
        impl.prepare(node)
        impl.check(node)
        return self._insert(node)

    def wait(
        self,
        name: str,
        schema: type[pydantic.BaseModel] | Mapping[str, Any],
        *,
        after: Iterable[str] = (),
        description: str = "",
        timeout: float | dt.timedelta | None = None,
        default: Any = _REQUIRED,
    ) -> Node:
        """Add a human-input node: the run pauses here until a payload matching ``schema``
        is submitted. Downstream nodes receive the validated payload by this node's name.

        With ``timeout`` (seconds or a timedelta) it waits that long, durably (no thread:
        the scheduler wakes the run): then it takes ``default`` (an answer, checked against
        ``schema`` now) or, without one, fails with ``TimeoutError``."""
        self._check_new_name(name)
        model = _build_schema(name, schema)
        seconds = _wait_timeout(name, timeout)
        config: dict[str, Any] = {}
        if default is not _REQUIRED:
            if seconds is None:
                raise GraphError(f"wait node {name!r}: default= is the answer of a timeout=")
            if isinstance(default, pydantic.BaseModel):
                default = default.model_dump(mode="json")
            try:
                checked = model.model_validate_json(json.dumps(default, default=str), strict=True)
            except (pydantic.ValidationError, TypeError, ValueError) as exc:
                raise GraphError(
                    f"wait node {name!r}: default does not match its schema: {exc}"
                ) from None
            config["default"] = checked.model_dump(mode="json")
        node = Node(
            name=name,
            kind=WaitKind.name,
            target=None,
            inputs={},
            after=tuple(after),
            timeout=seconds,
            schema=model,
            payload_as_dict=not isinstance(schema, type),
            config=config,
            doc=description,
        )
        return self._insert(node)

    def sleep(
        self,
        name: str,
        *,
        seconds: float | dt.timedelta | None = None,
        until: dt.datetime | str | None = None,
        after: Iterable[str] = (),
        description: str = "",
    ) -> Node:
        """Add a durable sleep: once the nodes in ``after`` are done, the run sleeps
        ``seconds`` (or ``until`` an aware datetime, or the datetime, or ISO 8601 text, held
        by the run input or node ``until`` names) without holding a worker, a thread or a
        lease, and is woken by the scheduler when due, across restarts. Other ready branches
        run first.
        Downstream nodes receive its wake time as an aware datetime (stored, and shown by
        ``run.output``, as its ISO 8601 text)."""
        self._check_new_name(name)
        config, inputs = sleep_config(name, seconds, until)
        node = Node(
            name=name,
            kind=SleepKind.name,
            target=None,
            inputs=inputs,
            after=tuple(after),
            config=config,
            doc=description,
        )
        return self._insert(node)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Graph:
        """The graph a stored spec (``g.spec()``, a published version's) describes, each node
        added again by its kind and options (``runtime.rebuild``): the node library's kinds
        and ``approval`` rebuild; a node running Python code is refused by name."""
        from runtime.rebuild import from_spec

        return from_spec(spec)

    @classmethod
    def from_functions(
        cls,
        name: str,
        *functions: types.ModuleType
        | Callable[..., Any]
        | Iterable[types.ModuleType | Callable[..., Any]],
        **options: Any,
    ) -> Graph:
        """Build a graph from plain functions whose parameter names name their dependencies.

        Takes modules, functions, or lists of either. Given modules, their public functions
        defined in them become nodes; private helpers (leading ``_``), imported functions and
        functions already added to another graph (``@g.node``) are left out. Hamilton modules
        go through ``from_hamilton``.
        """
        graph = cls(name, **options)
        candidates: list[Callable[..., Any]] = []
        for source in functions:
            if isinstance(source, types.ModuleType) or callable(source):
                candidates += _functions_of(source)
            else:
                for item in cast(Iterable[types.ModuleType | Callable[..., Any]], source):
                    candidates += _functions_of(item)
        for fn in candidates:
            _refuse_hamilton(name, fn)
            graph.add(fn.__name__, fn)
        graph.collected = True
        return graph

    @classmethod
    def from_hamilton(
        cls,
        name: str,
        *modules: types.ModuleType | Sequence[types.ModuleType],
        config: Mapping[str, Any] | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        timeout: float | None = None,
        **options: Any,
    ) -> Graph:
        """Build a graph from Hamilton modules with Hamilton's own graph builder: every
        function modifier is expanded by Hamilton, ``config`` picks ``@config.when`` variants,
        and each resulting Hamilton node (validators included) is one durable node whose value
        Hamilton's node callable computes. ``retries``, ``backoff`` and ``timeout`` apply to
        every node; other options are the graph's. Needs ``plait[hamilton]``."""
        from runtime.hamilton import from_hamilton

        try:
            _check_policies(name, retries, backoff, timeout, 1)
        except GraphError as exc:
            raise GraphError(str(exc).replace("node", "from_hamilton graph", 1)) from None
        graph = from_hamilton(cls(name, **options), modules, config)
        for node in graph.nodes.values():
            node.retries, node.backoff, node.timeout = retries, backoff, timeout
        graph.__dict__.pop("version", None)
        return graph

    def _check_new_name(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise GraphError(
                f"graph {self.name!r}: node name {name!r} must be a Python identifier, "
                "so that other nodes can name it as a parameter"
            )
        if name in self.nodes:
            raise GraphError(f"graph {self.name!r}: duplicate node name {name!r}")

    def _insert(self, node: Node) -> Node:
        self.nodes[node.name] = node
        self.__dict__.pop("plan", None)
        return node

    # -- validation -------------------------------------------------------------------------

    @cached_property
    def plan(self) -> Plan:
        """Validate the graph and derive its execution plan; raises ``GraphError``."""
        if not self.nodes:
            raise GraphError(f"graph {self.name!r} has no nodes")
        deps: dict[str, tuple[str, ...]] = {}
        run_inputs: dict[str, Any] = {}
        for node in self.nodes.values():
            for before in node.after:
                if before not in self.nodes:
                    raise GraphError(
                        f"node {node.name!r}: after={before!r} names no node of graph {self.name!r}"
                    )
            value_deps = []
            for param, source in node.inputs.items():
                if source in self.nodes:
                    value_deps.append(source)
                else:
                    # Required wins: the input is optional only if every node has a default.
                    default = node.defaults.get(param, _REQUIRED)
                    if source not in run_inputs or default is _REQUIRED:
                        run_inputs[source] = default
            deps[node.name] = tuple(dict.fromkeys([*value_deps, *node.after]))
            self._check_expected(node)
        order = _topological_order(self.name, list(self.nodes), deps)
        successors: dict[str, list[str]] = {n: [] for n in self.nodes}
        for name, ds in deps.items():
            for d in ds:
                successors[d].append(name)
        sinks = tuple(n for n in order if not successors[n])
        choices = {
            name: choices_of(name, successors)
            for name, node in self.nodes.items()
            if node.kind_impl.routes
        }
        for name, node in self.nodes.items():
            node.kind_impl.check_placed(node, choices.get(name, ()))
        return Plan(
            order=order,
            deps=deps,
            successors={k: tuple(v) for k, v in successors.items()},
            run_inputs=run_inputs,
            sinks=sinks,
            choices=choices,
        )

    def _check_expected(self, node: Node) -> None:
        for param, (what, where) in node.expects.items():
            source = node.inputs.get(param, param)  # ``inputs=`` may feed it from elsewhere
            if what == "node" and source not in self.nodes:
                raise GraphError(
                    f"node {node.name!r}: field {where} names unknown node {source!r} "
                    f"(nodes of graph {self.name!r}: {', '.join(self.nodes)})"
                )
            if what == "input" and source in self.nodes:
                raise GraphError(
                    f"node {node.name!r}: field {where} reads inputs.{source}, but {source!r} "
                    f"is a node of graph {self.name!r}: write nodes.{source}.output"
                )

    def validate(self) -> Graph:
        """Raise ``GraphError`` when the graph is invalid; return it otherwise."""
        _ = self.plan
        return self

    def check_inputs(
        self,
        inputs: Mapping[str, Any],
        outputs: Sequence[str] | None = None,
        *,
        from_text: bool = False,
    ) -> dict[str, Any]:
        """Reject missing, unexpected or ill-typed run inputs, naming them (``InputError``);
        return them coerced to the declared types (``runtime.inputs.validate_inputs``). With
        ``outputs``, only inputs the nodes they need read are required."""
        from runtime.inputs import validate_inputs

        return validate_inputs(self, inputs, from_text=from_text, outputs=outputs)

    def needed_for(self, outputs: Sequence[str] | None) -> frozenset[str]:
        """The nodes a run of ``outputs`` executes: those outputs and every node they depend
        on (all nodes when ``None``); ``InputError`` names an unknown output."""
        return needed_nodes(self.name, self.plan.deps, outputs)

    # -- description ------------------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        """JSON-serializable description: nodes, kinds, inputs, edges and policies."""
        plan = self.plan
        nodes = []
        for name in plan.order:
            node = self.nodes[name]
            entry: dict[str, Any] = {
                "name": name,
                "kind": node.kind,
                "inputs": dict(node.inputs),
                "after": list(node.after),
                "depends_on": list(plan.deps[name]),
                "policies": {
                    "retries": node.retries,
                    "backoff": node.backoff,
                    "timeout": node.timeout,
                    "pickle": self.pickle if node.pickle is None else node.pickle,
                    "isolation": node.isolation or self.isolation,
                    "max_interruptions": node.max_interruptions,
                },
                "code": node.code_ref(),
                "doc": node.doc,
            }
            entry.update(node.kind_impl.describe(node))
            if node.options is not None:  # only then: versions of other graphs keep their hash
                entry["options"] = node.options
            if node.secrets:  # only then: versions of graphs without secrets keep their hash
                entry["secrets"] = list(node.secrets)
            if node.join != "all":  # likewise
                entry["join"] = node.join
            if node.cache:  # likewise; a changed cache policy is a new version
                entry["cache"] = node.cache is True or node.cache.total_seconds()
            if name in plan.choices:
                entry["choices"] = list(plan.choices[name])
            nodes.append(entry)
        edges = [[d, n] for n in plan.order for d in plan.deps[n]]
        inputs = {
            name: {"required": True}
            if default is _REQUIRED
            else {"required": False, "default": _jsonable(default)}
            for name, default in plan.run_inputs.items()
        }
        return {
            "name": self.name,
            "description": self.description,
            "nodes": nodes,
            "edges": edges,
            "inputs": inputs,
            "outputs": list(plan.sinks),
        }

    @property
    def version(self) -> str:
        """Content hash of the spec and of all the code its nodes run (``runtime.codeversion``):
        equal across processes for the same graph, wherever its file was loaded from, and
        different when any code a node will execute changes. Computed afresh each time: a
        global a node reads may be rebound (a notebook cell run again) under the same graph."""
        return self.versioned()[0]

    def versioned(self) -> tuple[str, frozenset[str]]:
        """The version, and the user modules whose code it covers (shipped by value with it:
        ``runtime.codeversion.ship``)."""
        version, modules, _ = self.versioned_nodes()
        return version, modules

    def versioned_nodes(self) -> tuple[str, frozenset[str], dict[str, str]]:
        """``versioned()``, and each node's own digest: of its spec entry and of the code it
        runs, so a replay tells which nodes changed between two versions (``node_digests``)."""
        from runtime import codeversion

        spec = self.spec()
        for entry in spec["nodes"]:
            entry.pop("code")  # ``__main__:f`` or ``module:f``: where, not what
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
        entries = {entry["name"]: entry for entry in spec["nodes"]}
        modules: set[str] = set()
        nodes: dict[str, str] = {}
        for name in sorted(self.nodes):
            node = self.nodes[name]
            try:
                part, found = codeversion.digest(node.target, node.schema)
            except Exception:  # a walk must never stop a graph; the old fingerprint then
                part, found = hashlib.sha256(node.fingerprint().encode()).hexdigest(), frozenset()
            digest.update(f"\0{name}\0{part}".encode())
            modules |= found
            own = json.dumps(entries[name], sort_keys=True) + "\0" + part
            nodes[name] = hashlib.sha256(own.encode()).hexdigest()[:16]
        return digest.hexdigest()[:16], frozenset(modules), nodes

    def node_digests(self) -> dict[str, str]:
        """Node name -> digest of its spec entry and of the code it runs: equal across
        versions for a node nothing about changed (``Run.replay`` reuses its checkpoint)."""
        return self.versioned_nodes()[2]

    def node_sources(self) -> dict[str, str]:
        """Node name -> the source text of the code it runs, for the nodes whose kind has
        one (``NodeKind.source``): stored with a version so that another process (the studio)
        shows and diffs it without loading the code. Not part of the version: the version
        hashes the code itself. A source longer than ``SOURCE_CAP`` is left out."""
        found = {}
        for name in sorted(self.nodes):
            try:
                text = self.nodes[name].source()
            except Exception:  # showing code must never stop a publish
                continue
            if text is not None and len(text) <= SOURCE_CAP:
                found[name] = text
        return found

    def __repr__(self) -> str:
        try:
            plan = self.plan
        except GraphError as exc:
            return f"<Graph {self.name!r}: invalid: {exc}>"
        lines = [f"Graph {self.name!r} ({len(self.nodes)} nodes, version {self.version})"]
        for name in plan.order:
            node = self.nodes[name]
            deps = ", ".join(plan.deps[name])
            tag = "" if node.kind == FunctionKind.name else f" [{node.kind}]"
            lines.append(f"  {name}{tag}" + (f" <- {deps}" if deps else ""))
        if plan.run_inputs:
            shown = ", ".join(
                n if d is _REQUIRED else f"{n}={d!r}" for n, d in plan.run_inputs.items()
            )
            lines.append(f"  inputs: {shown}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Notebooks draw the graph (a picture that survives untrusted viewing)."""
        from runtime.notebook.display import graph_bundle

        try:
            return graph_bundle(self)
        except GraphError:
            return {"text/plain": repr(self)}

    # -- running ----------------------------------------------------------------------------

    def run(
        self,
        *,
        outputs: Sequence[str] | None = None,
        final_vars: Sequence[str] | None = None,
        start_at: dt.datetime | None = None,
        delay: dt.timedelta | None = None,
        **inputs: Any,
    ) -> Any:
        """Start a run on the default connection and return its ``Run`` handle at once.

        ``outputs`` (or Hamilton's name for it, ``final_vars``): run only these nodes and
        those they need; the others are not started and show as ``not_needed``. With
        ``start_at`` (an aware datetime) or ``delay`` the run is stored ``scheduled`` and
        starts when due, holding no worker until then (``run.cancel()`` before that)."""
        from runtime.client import default_client

        if delay is not None:
            if start_at is not None:
                raise InputError("give start_at or delay, not both")
            if not isinstance(delay, dt.timedelta):
                raise InputError(f"delay must be a timedelta, got {type(delay).__name__}")
            start_at = dt.datetime.now(dt.UTC) + delay
        return default_client().start(
            self, inputs, outputs=_outputs(outputs, final_vars), start_at=start_at
        )


# -- node construction ----------------------------------------------------------------------


def _function_node(name: str, fn: Callable[..., Any], inputs: Mapping[str, str] | None) -> Node:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise GraphError(f"node {name!r}: cannot read the signature of {fn!r}: {exc}") from exc
    params = {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise GraphError(
                f"node {name!r}: *args/**kwargs parameter {p.name!r} cannot be wired; "
                "name each input"
            )
        if p.kind is p.POSITIONAL_ONLY:
            raise GraphError(f"node {name!r}: positional-only parameter {p.name!r} is unsupported")
        params[p.name] = p
    explicit = dict(inputs or {})
    for param in explicit:
        if param not in params:
            raise GraphError(
                f"node {name!r}: inputs names unknown parameter {param!r} "
                f"(parameters are: {', '.join(params) or 'none'})"
            )
    return Node(
        name=name,
        kind=FunctionKind.name,
        target=fn,
        inputs={p: explicit.get(p, p) for p in params},
        defaults={p.name: p.default for p in params.values() if p.default is not _REQUIRED},
        annotations=_annotations(fn, params),
        doc=inspect.getdoc(fn) or "",
    )


def _wiring(name: str, inputs: Mapping[str, str] | Iterable[str] | None) -> dict[str, str] | None:
    """``add_node``'s ``inputs`` as parameter -> source (``None`` when not given)."""
    if inputs is None:
        return None
    if isinstance(inputs, str):
        raise GraphError(f"node {name!r}: inputs is a dict or a list of names, e.g. [{inputs!r}]")
    pairs = inputs.items() if isinstance(inputs, Mapping) else ((n, n) for n in inputs)
    wired = {}
    for param, source in pairs:
        for what in (param, source):
            if not isinstance(what, str) or not what.isidentifier():
                raise GraphError(f"node {name!r}: input name {what!r} is not an identifier")
        wired[param] = source
    return wired


def _annotations(fn: Callable[..., Any], params: Mapping[str, inspect.Parameter]) -> dict:
    """Parameter -> its type, resolving string annotations where the module allows."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # a forward reference that does not resolve: use what is readable
        hints = {
            p.name: p.annotation
            for p in params.values()
            if p.annotation is not _REQUIRED and not isinstance(p.annotation, str)
        }
    return {p: hints[p] for p in params if p in hints}


def _belongs_to_a_graph(module: types.ModuleType, fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is a node of a graph defined in ``module`` (``@g.node`` in a notebook)."""
    return any(
        isinstance(g, Graph)
        and not g.collected  # re-running a from_functions cell must find the same functions
        and any(n.target is fn for n in g.nodes.values())
        for g in vars(module).values()
    )


def _functions_of(source: types.ModuleType | Callable[..., Any]) -> list[Callable[..., Any]]:
    """The node functions a module defines, or the function itself."""
    if not isinstance(source, types.ModuleType):
        return [source]
    return [
        obj
        for attr, obj in vars(source).items()
        if inspect.isfunction(obj)
        and not attr.startswith("_")
        and obj.__module__ == source.__name__
        and not _belongs_to_a_graph(source, obj)
    ]


def _refuse_hamilton(graph: str, fn: Callable[..., Any]) -> None:
    from runtime.hamilton import decorator_of

    decorator = decorator_of(fn)
    if decorator is not None:
        raise GraphError(
            f"graph {graph!r}: function {fn.__name__!r} carries Hamilton's {decorator}, which "
            "from_functions does not apply; build Hamilton modules with "
            f"Graph.from_hamilton({graph!r}, module, config={{...}})"
        )


def _is_runnable(target: Any) -> bool:
    # LangChain is heavy to import; a runnable can only exist if it is imported already
    if "langchain_core.runnables" not in sys.modules:
        return False
    from langchain_core.runnables import Runnable

    return isinstance(target, Runnable)


def _runnable_node(name: str, runnable: Runnable, inputs: Mapping[str, str] | None) -> Node:
    from runtime.runnables import dict_keys

    keys = dict_keys(runnable)
    if inputs is None:
        if not keys:
            schema = runnable.get_input_jsonschema()
            raise GraphError(
                f"node {name!r}: cannot tell which inputs this runnable takes "
                f"(input type {schema.get('type', schema.get('title', '?'))}); "
                "pass inputs={'key': 'node_or_input'}"
            )
        inputs = {k: k for k in keys}
    return Node(
        name=name,
        kind=RunnableKind.name,
        target=runnable,
        inputs=dict(inputs),
        input_as_dict=keys is not None or len(inputs) != 1,
    )


def _subgraph_node(
    parent: str, name: str, target: Graph | str, inputs: Mapping[str, str] | None
) -> Node:
    """A sub-graph node: its parameters are the child's run inputs."""
    if isinstance(target, Graph):
        if target.name == parent:
            raise GraphError(f"node {name!r}: graph {parent!r} cannot contain itself")
        try:
            run_inputs = {k: d is _REQUIRED for k, d in target.validate().plan.run_inputs.items()}
            defaults = {k: d for k, d in target.plan.run_inputs.items() if d is not _REQUIRED}
        except GraphError as exc:
            raise GraphError(f"node {name!r}: sub-graph {target.name!r} is invalid: {exc}") from exc
        ref = Subgraph(target.name, graph=target, run_inputs=run_inputs)
        doc = target.description
    else:
        ref, defaults = _published(name, target)
        doc = ""
    return Node(
        name=name,
        kind=SubgraphKind.name,
        target=ref,  # type: ignore[arg-type]
        inputs=subgraph_inputs(name, ref, inputs, parent),
        defaults=defaults,
        doc=doc,
    )


def subgraph_inputs(
    name: str, ref: Subgraph, inputs: Mapping[str, str] | None, parent: str | None = None
) -> dict[str, str]:
    """A sub-graph node's parameters (the child's run inputs) -> what feeds each: ``inputs``
    rewires some; ``GraphError`` names one that is no run input of the child."""
    explicit = dict(inputs or {})
    for param, source in explicit.items():
        if param not in ref.run_inputs:
            raise GraphError(
                f"node {name!r}: inputs names {param!r}, which is no run input of sub-graph "
                f"{ref.workflow!r} (its inputs are: {', '.join(ref.run_inputs) or 'none'})"
            )
        if not isinstance(source, str) or not source.isidentifier():
            where = f"graph {parent!r}" if parent else "the graph"
            raise GraphError(
                f"node {name!r}: inputs[{param!r}] must name a node or run input of {where}, "
                f"got {source!r}"
            )
    return {p: explicit.get(p, p) for p in ref.run_inputs}


def _published(name: str, target: str) -> tuple[Subgraph, dict[str, Any]]:
    """A published workflow version named ``workflow@version`` (or ``workflow``: its latest,
    pinned now), read from the default connection's store."""
    from runtime.client import default_client
    from runtime.errors import NotFound

    workflow, _, version = target.partition("@")
    if not workflow:
        raise GraphError(f"node {name!r}: sub-graph {target!r} names no workflow")
    try:
        found = default_client().store.find_version(workflow, version or None)
    except NotFound as exc:
        raise GraphError(f"node {name!r}: sub-graph {target!r}: {exc}") from None
    spec_inputs = found.spec.get("inputs", {})
    run_inputs = {k: bool(v.get("required")) for k, v in spec_inputs.items()}
    defaults = {k: v.get("default") for k, v in spec_inputs.items() if not v.get("required")}
    return Subgraph(workflow, pinned=found.version, run_inputs=run_inputs), defaults


def published_subgraph(
    name: str, workflow: str, version: str | None
) -> tuple[Subgraph, dict[str, Any]]:
    """``_published`` for a sub-graph node added by kind (``SubgraphOptions``): its
    ``GraphError`` names the option at fault (``field workflow:``, ``field version:``)."""
    from runtime.client import default_client
    from runtime.errors import NotFound

    store = default_client().store
    try:
        store.workflow(workflow)
    except NotFound:
        raise GraphError(
            f"node {name!r}: field workflow: no workflow named {workflow!r} is published "
            "here (publish it first)"
        ) from None
    try:
        return _published(name, f"{workflow}@{version or ''}")
    except GraphError as exc:
        field = "version" if version else "workflow"
        said = str(exc).removeprefix(f"node {name!r}: ")
        raise GraphError(f"node {name!r}: field {field}: {said}") from None


def _build_schema(name: str, schema: Any) -> type[pydantic.BaseModel]:
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        return schema
    if not isinstance(schema, Mapping) or not schema:
        raise GraphError(
            f"wait node {name!r}: schema must be a pydantic model or a non-empty "
            f"{{field: type}} dict, got {schema!r}"
        )
    fields: dict[str, Any] = {}
    for field_name, spec in schema.items():
        if not isinstance(field_name, str) or not field_name.isidentifier():
            raise GraphError(f"wait node {name!r}: field name {field_name!r} is not an identifier")
        annotation, default = spec if isinstance(spec, tuple) else (spec, ...)
        if not _is_type_like(annotation):
            raise GraphError(
                f"wait node {name!r}: field {field_name!r} has {annotation!r}, which is not a type"
            )
        fields[field_name] = (annotation, default)
    try:
        model = pydantic.create_model(f"{name}_payload", **fields)
        model.model_json_schema()
    except Exception as exc:
        raise GraphError(f"wait node {name!r}: cannot build its schema: {exc}") from exc
    return model


def _wait_timeout(name: str, timeout: float | dt.timedelta | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, dt.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise GraphError(
            f"wait node {name!r}: timeout must be a number of seconds > 0 (or a timedelta), "
            f"got {timeout!r}"
        )
    return float(timeout)


def _check_isolation(what: str, isolation: Any) -> None:
    if isolation is not None and isolation not in ISOLATIONS:
        raise GraphError(
            f"{what}: isolation must be one of {', '.join(ISOLATIONS)}, got {isolation!r}"
        )


_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def _check_secrets(name: str, secrets: Iterable[str]) -> tuple[str, ...]:
    if isinstance(secrets, str):
        raise GraphError(f"node {name!r}: secrets is a list of names, e.g. secrets=[{secrets!r}]")
    declared = tuple(dict.fromkeys(secrets))
    for secret in declared:
        if not isinstance(secret, str) or _SECRET_NAME.fullmatch(secret) is None:
            raise GraphError(
                f"node {name!r}: secret name {secret!r} must be letters, digits and '_' "
                "(at most 100, not starting with a digit), e.g. OPENAI_API_KEY"
            )
    return declared


def _is_type_like(annotation: Any) -> bool:
    return isinstance(annotation, type) or typing.get_origin(annotation) is not None


def _check_policies(
    name: str, retries: int, backoff: float, timeout: float | None, max_interruptions: int
) -> None:
    if not isinstance(retries, int) or retries < 0:
        raise GraphError(f"node {name!r}: retries must be an int >= 0, got {retries!r}")
    if not isinstance(max_interruptions, int) or max_interruptions < 1:
        raise GraphError(
            f"node {name!r}: max_interruptions must be an int >= 1, got {max_interruptions!r}"
        )
    if backoff < 0:
        raise GraphError(f"node {name!r}: backoff must be >= 0 seconds, got {backoff!r}")
    if timeout is not None and timeout <= 0:
        raise GraphError(f"node {name!r}: timeout must be > 0 seconds, got {timeout!r}")


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _check_cache(name: str, cache: Any) -> None:
    if isinstance(cache, bool):
        return
    if not isinstance(cache, dt.timedelta):
        raise GraphError(
            f"node {name!r}: cache must be True, False or a timedelta, got {type(cache).__name__}"
        )
    if cache <= dt.timedelta(0):
        raise GraphError(f"node {name!r}: a cache timedelta must be positive, got {cache}")


def _topological_order(
    graph: str, names: list[str], deps: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """Kahn's algorithm keeping declaration order among ready nodes; names a cycle's path."""
    remaining = {n: len(deps[n]) for n in names}
    dependents: dict[str, list[str]] = {n: [] for n in names}
    for n in names:
        for d in deps[n]:
            dependents[d].append(n)
    ready = [n for n in names if remaining[n] == 0]
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for nxt in dependents[current]:
            remaining[nxt] -= 1
            if remaining[nxt] == 0:
                ready.append(nxt)
    if len(order) < len(names):
        cycle = _find_cycle([n for n in names if remaining[n] > 0], deps)
        raise GraphError(f"graph {graph!r} has a cycle: {' -> '.join(cycle)}")
    return tuple(order)


def _find_cycle(candidates: list[str], deps: dict[str, tuple[str, ...]]) -> list[str]:
    """Follow dependencies inside the unresolved set until a node repeats."""
    unresolved = set(candidates)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = candidates[0]
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(d for d in deps[node] if d in unresolved)
    cycle = [*path[seen[node] :], node]
    return list(reversed(cycle))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def _outputs(
    outputs: Sequence[str] | None, final_vars: Sequence[str] | None
) -> Sequence[str] | None:
    if outputs is not None and final_vars is not None:
        raise InputError("give outputs= or final_vars= (the same thing), not both")
    return outputs if outputs is not None else final_vars


def needed_nodes(
    graph: str, deps: Mapping[str, Sequence[str]], outputs: Sequence[str] | None
) -> frozenset[str]:
    """The requested ``outputs`` and every node they depend on (``deps``: node -> nodes it
    waits for); all nodes when ``outputs`` is ``None``. ``InputError`` names outputs that
    are no node of the graph, and an empty request."""
    if outputs is None:
        return frozenset(deps)
    if isinstance(outputs, str) or not outputs:
        raise InputError(
            f"graph {graph!r}: outputs must be a non-empty list of node names, got {outputs!r}"
        )
    unknown = [o for o in outputs if o not in deps]
    if unknown:
        raise InputError(
            f"graph {graph!r}: unknown output(s): {', '.join(map(str, unknown))} "
            f"(nodes are: {', '.join(deps)})"
        )
    needed: set[str] = set()
    todo = list(outputs)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(deps[name])
    return frozenset(needed)


def check_run_inputs(graph: str, required: Mapping[str, bool], inputs: Mapping[str, Any]) -> None:
    """Reject missing or unexpected run inputs, naming them. ``required`` maps each run input
    of the graph to whether it must be given (a graph object's or a stored spec's)."""
    missing = sorted(n for n, needed in required.items() if needed and n not in inputs)
    unexpected = sorted(set(inputs) - set(required))
    problems = []
    if missing:
        problems.append("missing required input(s): " + ", ".join(missing))
    if unexpected:
        known = ", ".join(sorted(required)) or "none"
        problems.append(f"unexpected input(s): {', '.join(unexpected)} (inputs are: {known})")
    if problems:
        raise InputError(f"graph {graph!r}: " + "; ".join(problems))
