"""``Node``: one step of a graph, as its kind (``runtime.nodes.kind``) and the engine see it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from runtime.nodes.kind import NodeKind
from runtime.nodes.registry import kind_of

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

Join = Literal["all", "any"]
"""When a node fed by branches runs: ``all`` (default) needs every input, and is skipped as
untaken when one is on an untaken path; ``any`` runs once its inputs are done, receiving
``None`` (or its parameter's default) for those on untaken paths."""
JOINS: tuple[Join, ...] = ("all", "any")

Isolation = Literal["thread", "process"]
"""Where a node attempt's code runs: a thread of the engine's process, or a child process of
its own (killed on timeout or cancel; its crash takes down nothing else; it holds no keys)."""
ISOLATIONS: tuple[Isolation, ...] = ("thread", "process")


@dataclass
class Node:
    """One step of a graph."""

    name: str
    """Unique within the graph; other nodes name it as a parameter to depend on it."""
    kind: str
    """The name of its kind (``runtime.nodes.registry``): ``function`` (sync or async
    callable), ``runnable`` (LangChain), ``wait`` (human input), ``sleep`` (a durable timer),
    ``branch`` (a function choosing its successors), ``graph`` (a sub-graph), ``map``, or a
    plug-in's."""
    target: Callable[..., Any] | Runnable | None
    """What executes; ``None`` for a wait or sleep node."""
    inputs: dict[str, str]
    """Parameter name -> the node or run input that feeds it."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Parameter name -> default value, used when the feeding run input is not given."""
    annotations: dict[str, Any] = field(default_factory=dict)
    """Parameter name -> declared type; run inputs are checked against it before a run."""
    after: tuple[str, ...] = ()
    """Nodes that must finish first without passing a value."""
    retries: int = 0
    """Extra attempts after a failure."""
    backoff: float = 1.0
    """Seconds before the first retry; doubles each attempt, with jitter."""
    timeout: float | None = None
    """Seconds an attempt may take before it fails with ``TimeoutError``; for a wait node,
    seconds it waits for an answer before it takes its default (or fails)."""
    pickle: bool | None = None
    """Allow pickling this node's output; ``None`` inherits the graph's setting."""
    isolation: Isolation | None = None
    """``thread`` or ``process``; ``None`` inherits the graph's, then ``PLAIT_ISOLATION``."""
    max_interruptions: int = 3
    """Attempts cut off by the death of their process before the node fails for good (a node
    that crashes its process would otherwise be started again forever)."""
    secrets: tuple[str, ...] = ()
    """Names of the stored secrets this node reads with ``rt.secret(name)``; only these are
    decrypted for it."""
    schema: type[pydantic.BaseModel] | None = None
    """Payload model of a wait node."""
    payload_as_dict: bool = False
    """Hand the payload on as a dict (the schema was given as a dict) instead of the model."""
    input_as_dict: bool | None = None
    """A runnable is invoked with the dict of its inputs (its input schema is an object with
    keys) rather than its one input's bare value. ``None`` in graphs stored before this was
    decided: the dict unless there is one input, as they ran then."""
    join: Join = "all"
    """``all`` or ``any``: how it treats inputs on untaken branch paths (``Join``); a failure
    upstream skips it either way."""
    options: dict[str, Any] | None = None
    """Its kind's options as its ``options`` model validated them (JSON values: a map node's
    ``over``, ``concurrency``, ``on_error``, element policies; a plug-in's); in the spec, and
    so in the version. ``None`` when none were given."""
    config: dict[str, Any] = field(default_factory=dict)
    """Options of its kind beyond the common policies, as plain JSON data: a sleep's
    ``seconds`` or ``until``, a wait's ``default`` answer."""
    expects: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Source -> (``node`` or ``input``, the option field naming it): what the expressions
    in its options name (``runtime.nodes.expressions``), checked when the graph is planned
    (a named node must exist; an input must not be a node's name)."""
    doc: str = ""
    cache: bool | dt.timedelta = False
    """Reuse the output of an earlier succeeded attempt with the same code and input values
    instead of running (``runtime.cache``): ``True`` for as long as the entry exists, a
    ``timedelta`` for that long after it was recorded. Off by default: a node with side
    effects must not be skipped unless its author says so."""

    @property
    def kind_impl(self) -> NodeKind:
        """The plug-in that executes, versions and describes this node."""
        return kind_of(self.kind)

    @property
    def is_async(self) -> bool:
        return self.kind_impl.is_async(self)

    def code_ref(self) -> str | None:
        """``module:qualname`` of the code it runs, when it has one."""
        return self.kind_impl.code_ref(self) if self.target is not None else None

    def fingerprint(self) -> str:
        """Text that changes whenever the node's code changes."""
        return self.kind_impl.fingerprint(self)

    def source(self) -> str | None:
        """The source text of the code it runs, when its kind can read one."""
        return self.kind_impl.source(self) if self.target is not None else None
