"""``NodeKind``: what the engine, the spec and the views ask of one kind of node.

A kind is a plug-in: the engine calls it and never asks which kind a node is. Built-in kinds
live next to this module; others register through the ``plait.nodes`` entry point group
(``runtime.nodes.registry``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pydantic

from runtime.errors import GraphError

if TYPE_CHECKING:
    from runtime.nodes.node import Node

Parks = Literal["waiting", "sleeping", "in_subgraph"]
"""How a node whose inputs are ready can stop its run without executing code: ``waiting``
for a payload someone submits (``client.resume``), ``sleeping`` until its ``wake_at``,
``in_subgraph`` for the end of a child run it starts (``runtime.nodes.subgraph``). It is the
status the run parks as when nothing else can go on."""


@dataclass(frozen=True)
class Woken:
    """What a parked node's attempt becomes once its wake time passed unanswered: it
    succeeds with ``value`` (stored, encoded, when the attempt starts)."""

    value: Any


@dataclass(frozen=True)
class Scope:
    """What a pass lends the attempt of a kind that drives parts of its own (a map node's
    elements): the attempt, the store and a checkpoint under the pass's lease."""

    run_id: str
    attempt: int
    """The driving node attempt's number."""
    owner: str
    """The process executing it (the owner of every part attempt it starts)."""
    store: Any
    """The ``runtime.store.Store`` (reads only: writes go through ``checkpoint``)."""
    checkpoint: Callable[..., Awaitable[None]]
    """``await checkpoint(finishes=, starts=, interrupt=, events=)``: one ``Store.step`` of
    the pass (fenced by its lease, event numbers kept, the events published)."""
    threads: Executor
    """Where sync part code runs (the engine's node threads)."""
    tracked: set[int]
    """Attempt rows whose code executes in this process: the heartbeat renews their leases.
    Add a part's row when it starts and discard it once it has returned."""
    lease_seconds: float
    retry_floor: int | None
    """Part attempts with a row id up to this were made before the run's last retry."""
    encode: Callable[[Any], Any]
    """Encodes a part's value as the node's output would be (``codecs.Encoded``)."""
    redact: Callable[[str], str]
    """Hides the run's secrets in a part's error and logs."""
    hand_out: Callable[[str, int, int, int, bool], Awaitable[None]] | None = None
    """``await hand_out(part, index, row_id, attempt, retry)`` sends a part's attempt row
    (started owned by ``handed_owner``) to another worker process (``runtime.spread``);
    ``None``: every part executes in this process."""
    keep: int = 0
    """Parts this process executes itself at once before it hands the next ones out."""
    handed_owner: str = ""
    """The owner of handed-out part rows until a worker claims them."""


@dataclass(frozen=True)
class Call:
    """What one attempt of a node executes: ``fn(**kwargs)``, awaited when ``is_async``."""

    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    is_async: bool = False


class NodeKind:
    """One kind of node. Subclass it, set ``name`` (and ``options`` for a studio form), and
    override what differs from a plain function call.

    Every method receives the ``Node`` it is about; a kind keeps no state of its own, so one
    instance serves every node of its kind.
    """

    name: ClassVar[str]
    """The ``kind`` of its nodes in specs, views and the API."""
    options: ClassVar[type[pydantic.BaseModel] | None] = None
    """The options a node of this kind is configured with; its JSON schema is the form the
    studio renders. ``None``: nothing beyond the common policies."""
    parks: ClassVar[Parks | None] = None
    """Set when nodes of this kind stop the run instead of executing code (``waiting``,
    ``sleeping``, ``in_subgraph``)."""
    routes: ClassVar[bool] = False
    """Nodes of this kind choose which of their successors run (``untaken``): the plan
    derives their choices, and a resumed pass reads their outputs to follow their decision."""
    drives: ClassVar[bool] = False
    """Its attempts drive checkpointed parts of their own on the event loop of the process
    executing them (a map's elements, through ``call_in``): never in a child process."""

    def call(self, node: Node, kwargs: dict[str, Any]) -> Call:
        """What an attempt executes, given the node's arguments by parameter name."""
        raise NotImplementedError(f"node kind {self.name!r} executes no code")

    def call_in(self, node: Node, kwargs: dict[str, Any], scope: Scope) -> Call:
        """``call``, for a kind that needs the pass's ``Scope`` (one that ``drives``)."""
        return self.call(node, kwargs)

    def load(self, node: Node, value: Any) -> Any:
        """The value downstream nodes receive, from the node's stored output."""
        return value

    def fingerprint(self, node: Node) -> str:
        """Text that changes whenever what the node executes changes (used when the code
        walk of ``runtime.codeversion`` cannot read its target)."""
        return repr(node.target)

    def code_ref(self, node: Node) -> str | None:
        """``module:qualname`` of the code it runs, when it has one (shown in views)."""
        return None

    def source(self, node: Node) -> str | None:
        """The source text of the code the node runs, dedented, when it has some a person
        can read (stored with each version: ``Graph.node_sources``); ``None`` otherwise. A
        kind whose code lives in its options (a ``code`` node) has it in the spec already."""
        return None

    def describe(self, node: Node) -> dict[str, Any]:
        """Entries this kind adds to the node's spec (a wait node's payload ``schema``)."""
        return {}

    def is_async(self, node: Node) -> bool:
        """Whether its attempts are coroutines (they then run on the event loop)."""
        return False

    def untaken(self, node: Node, value: Any, choices: Sequence[str]) -> set[str]:
        """The ``choices`` (successors of a ``routes`` node) its output ``value`` does not
        take: they are skipped, as untaken. A ``ValueError`` fails the node with its message
        (the value chose nothing it may choose)."""
        return set()

    def check_placed(self, node: Node, choices: Sequence[str]) -> None:
        """Raise ``GraphError`` when the node does not fit its graph (called when the graph
        is planned; ``choices`` are those of a ``routes`` node, else empty)."""

    def wake_at(self, node: Node, now: dt.datetime, kwargs: dict[str, Any]) -> dt.datetime | None:
        """A parking node's wake time, decided when its attempt starts at ``now`` with its
        arguments: a sleep's end, a wait's timeout. ``None``: it parks until answered."""
        return None

    def park_data(self, node: Node, run_id: str) -> dict[str, Any]:
        """What the event of its parking says beyond the attempt (a sub-graph node's
        ``child_run``)."""
        return {}

    def woken(self, node: Node, wake_at: dt.datetime) -> Woken | None:
        """What its attempt ends with when ``wake_at`` passes first: ``Woken(value)``, or
        ``None`` for a failure (``TimeoutError``)."""
        return None

    def prepare(self, node: Node) -> None:
        """Derive what a node takes from its options as it is added by kind, before
        ``check`` (a library node's parameters from the expressions in its options: its
        ``inputs``, ``annotations`` and ``expects``)."""

    def check(self, node: Node) -> None:
        """Refuse a node of this kind as it is added to a graph (``GraphError`` naming what
        is wrong), e.g. a target it cannot call. Its options are validated before."""

    def configured(self, node: Node) -> pydantic.BaseModel | None:
        """The node's options as this kind's ``options`` model (its defaults when none were
        given); ``None`` for a kind without options."""
        if self.options is None:
            return None
        return self.options.model_validate(node.options or {})


def schema_text(schema: type[pydantic.BaseModel] | None) -> str:
    return json.dumps(schema.model_json_schema(), sort_keys=True) if schema else ""


def options_schema(kind: NodeKind) -> Mapping[str, Any]:
    """The JSON schema of a kind's options (``{}`` when it has none); one object per options
    model, never to be changed by the caller."""
    return _model_schema(kind.options) if kind.options is not None else {}


@functools.cache
def _model_schema(model: type[pydantic.BaseModel]) -> Mapping[str, Any]:
    # pydantic builds it anew each call (8-13 ms for llm and http): editors ask per edit
    return model.model_json_schema()


def validated_options(kind: NodeKind, node: str, options: Mapping[str, Any] | None) -> dict | None:
    """``options`` checked against the kind's model, as JSON values (``None`` when none are
    given); ``GraphError`` names the node, the kind and each wrong field."""
    if options is None:
        if kind.options is not None:
            validated_options(kind, node, {})  # required fields must be given
        return None
    if kind.options is None:
        raise GraphError(f"node {node!r}: node kind {kind.name!r} takes no options")
    if not isinstance(options, Mapping):
        raise GraphError(
            f"node {node!r}: options of node kind {kind.name!r} are a dict, "
            f"got {type(options).__name__}"
        )
    try:
        model = kind.options.model_validate(dict(options))
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(options)'}: {e['msg']}" for e in exc.errors()
        )
        raise GraphError(
            f"node {node!r}: invalid options for node kind {kind.name!r}: {problems}"
        ) from None
    return model.model_dump(mode="json")
