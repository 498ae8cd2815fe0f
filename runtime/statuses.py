"""Run and node statuses, event types, and the moves between them: defined here once.

Every view (``run.nodes``, the notebook view, the studio, the report, the CLI) takes its
statuses, terminal sets and labels from this module, so a node shows the same status
everywhere. It imports nothing of Plait: any layer may use it.

Run statuses
    - ``scheduled``: a delayed run (``start_at``/``delay``), stored and holding no worker; it
      becomes ``queued`` when due (the scheduler or a reaper moves it) or is cancelled.
    - ``queued``: stored, waiting for a process to take it (new, resumed after a wait, or
      retried).
    - ``running``: a pass holds its lease and executes its nodes.
    - ``waiting``: a wait node needs a human; nothing runs until it is answered (or, for a
      wait with a ``timeout``, until its ``wake_at``, when the scheduler queues it again).
    - ``sleeping``: nothing can run until a durable sleep ends (``g.sleep``): the run holds
      no worker, thread or lease; its ``wake_at`` says when the scheduler (or a worker's
      reaper) queues it again. Not settled: ``run.wait()`` keeps waiting through a sleep.
    - ``in_subgraph``: nothing else can run until a sub-graph node's child run ends; the run
      holds no worker meanwhile, and the child's end queues it again.
    - ``succeeded``: every needed node succeeded.
    - ``failed``: a node failed for good (the others that could run did).
    - ``cancelled``: someone cancelled it.

    The last three are *finished*: no pass changes them again. ``failed`` and ``cancelled``
    runs can be *retried* (``run.retry()``), which queues the same run again: its succeeded
    nodes are kept and the others run.

Node statuses (of a node's latest attempt, as ``run.nodes`` shows it)
    - ``pending``: not started yet (no attempt).
    - ``running``: an attempt executes.
    - ``waiting``: a wait node waits for its payload (until its ``wake_at`` when it has a
      ``timeout``: then it takes its default answer, or fails with ``TimeoutError``).
    - ``sleeping``: a sleep node waits for its ``wake_at``; it then succeeds with it.
    - ``waiting`` is also a sub-graph node waiting for its child run to end
      (``runtime.nodes.subgraph``).
    - ``retrying``: the latest attempt failed and another will follow at ``retry_at`` (the
      row is stored ``failed`` with ``will_retry``; a finished run shows it ``failed``).
    - ``succeeded``: its output is checkpointed.
    - ``cached``: succeeded without running: a cached node (``@g.node(cache=...)``) took the
      output of an earlier succeeded attempt with the same code and input values
      (``runtime.cache``). Stored as a ``succeeded`` row with ``cached_from`` (the source
      attempt's id); its ``node.succeeded`` event carries ``cached: true`` and
      ``cached_from`` (``run_id``, ``attempt``, ``node``). Everything that waits for a
      success takes it as one (``NODE_SUCCEEDED``).
    - ``failed``: failed for good (retries used up, or not retryable).
    - ``skipped``: not run because a node it depends on did not succeed, or *untaken*: on
      a path a branch did not take (``untaken_nodes``; its ``node.skipped`` event says
      ``"untaken": true``). Untaken nodes do not make a run fail.
    - ``cancelled``: stopped by a cancel.
    - ``not_needed``: not started because no requested output (``outputs=``) depends on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

RunStatus = Literal[
    "scheduled",
    "queued",
    "running",
    "waiting",
    "sleeping",
    "in_subgraph",
    "succeeded",
    "failed",
    "cancelled",
]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)

RUN_FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
"""Run statuses no pass changes again (only a retry does)."""
RUN_SETTLED: frozenset[str] = RUN_FINISHED | {"waiting"}
"""Statuses ``Run.wait`` returns on: finished, or needing a human."""
RUN_UNSUCCESSFUL: frozenset[str] = frozenset({"failed", "cancelled"})
"""Finished without success (the CLI exits 1; their open nodes are closed ``cancelled``)."""
RUN_RETRYABLE: frozenset[str] = RUN_UNSUCCESSFUL
"""Runs ``retry`` continues from their failure."""
RUN_HOLDING_A_SLOT: frozenset[str] = frozenset({"running", "waiting", "sleeping", "in_subgraph"})
"""Runs counted against their workflow's ``max_concurrent_runs``."""
RUN_ACTIVE: frozenset[str] = frozenset({"queued", "running"})
"""Unfinished runs a pass may take (``waiting`` ones wait for an answer first, ``sleeping``
ones for their ``wake_at``)."""
RUN_PARKED: frozenset[str] = frozenset({"waiting", "sleeping", "in_subgraph"})
"""Unfinished runs nobody holds until something happens: an answer, a child run's end, or
their ``wake_at`` (then ``release_due`` queues them)."""
RUN_STOPPED: frozenset[str] = RUN_FINISHED | {"waiting", "sleeping"}
"""Where nothing happens next without an answer or the clock (``runtime.testing`` drives a
run from one to the next; an ``in_subgraph`` run goes on when its child ends)."""

RUN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "scheduled": frozenset({"queued", "cancelled"}),
    "queued": frozenset({"running", "cancelled"}),
    "running": frozenset(
        {"queued", "waiting", "sleeping", "in_subgraph", "succeeded", "failed", "cancelled"}
    ),
    "waiting": frozenset({"queued", "running", "cancelled"}),
    "sleeping": frozenset({"queued", "cancelled"}),
    "in_subgraph": frozenset({"queued", "cancelled"}),
    "succeeded": frozenset(),
    "failed": frozenset({"queued"}),
    "cancelled": frozenset({"queued"}),
}
"""Status -> the statuses a run may move to from it. ``running -> queued``: a pass released
the run (or a wait was answered while it ran); ``waiting | sleeping -> queued``: answered,
or woken at its ``wake_at``; ``failed | cancelled -> queued``: a retry;
``in_subgraph -> queued``: the child run it waited for ended."""

NodeStatus = Literal[
    "pending",
    "running",
    "waiting",
    "sleeping",
    "retrying",
    "succeeded",
    "cached",
    "failed",
    "skipped",
    "cancelled",
    "not_needed",
]
NODE_STATUSES: tuple[NodeStatus, ...] = get_args(NodeStatus)

NODE_STORED: frozenset[str] = frozenset(NODE_STATUSES) - {"pending", "retrying", "cached"}
"""What an attempt row's ``status`` holds (``pending`` has no row; ``retrying`` is a
``failed`` row with ``will_retry``; ``cached`` a ``succeeded`` one with ``cached_from``)."""
NODE_SUCCEEDED: frozenset[str] = frozenset({"succeeded", "cached"})
"""Nodes whose output is stored (a cached one's is an earlier attempt's): a view shows them
as successes, and a run whose every needed node is one succeeded."""
NODE_DONE: frozenset[str] = frozenset({"succeeded", "cached", "skipped", "not_needed"})
"""Nodes a progress count takes as done."""
NODE_NOT_RUN: frozenset[str] = frozenset({"skipped", "not_needed"})
"""Nodes a run passed over without starting them (no code ran, no child run began)."""
NODE_FINAL: frozenset[str] = NODE_DONE | {"failed", "cancelled"}
"""Node statuses that end a node's part in a pass."""
NODE_OPEN: frozenset[str] = frozenset({"running", "waiting", "sleeping"})
"""Attempts still going on (closed ``cancelled`` when their run ends without success)."""
NODE_ATTEMPT_ENDS: frozenset[str] = frozenset(
    {"succeeded", "cached", "failed", "retrying", "cancelled"}
)
"""Node statuses that end an attempt (a ``retrying`` node's attempt failed)."""
NODE_PROGRESS_NAMED: tuple[str, ...] = (
    "running",
    "waiting",
    "sleeping",
    "retrying",
    "failed",
    "not_needed",
)
"""Node statuses a progress line counts by name (``2 running · 1 failed``), in this order."""
NODE_COUNTED: tuple[str, ...] = (
    "succeeded",
    "cached",
    "failed",
    "running",
    "retrying",
    "waiting",
    "sleeping",
    "skipped",
    "cancelled",
    "not_needed",
    "pending",
)
"""Every node status, in the order a run's counts say them (done first, pending last)."""
NODE_BLOCKING: frozenset[str] = frozenset({"failed", "skipped", "cancelled"})
"""A dependency in one of these makes a node ``skipped``."""
NODE_PARKED: frozenset[str] = frozenset({"waiting", "sleeping"})
"""Attempts that execute no code and wait: for a payload, or for their ``wake_at``."""
NODE_FINISHABLE: frozenset[str] = frozenset({"running", "sleeping"})
"""Attempt rows a pass may finish: the attempts it executes, and its sleeps (which only the
holder of the run, or ``release_due`` while nobody holds it, ends)."""
NODE_RETRIED: frozenset[str] = frozenset({"failed", "skipped", "cancelled", "retrying"})
"""What a run's retry starts again; ``succeeded`` and ``not_needed`` nodes stay as they are."""

NODE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"running", "waiting", "sleeping", "skipped", "not_needed", "cancelled"}),
    "running": frozenset({"succeeded", "cached", "failed", "retrying", "cancelled"}),
    "waiting": frozenset({"succeeded", "failed", "cancelled"}),
    "sleeping": frozenset({"succeeded", "cancelled"}),
    "retrying": frozenset({"running", "failed", "cancelled"}),
    "succeeded": frozenset(),
    "cached": frozenset(),
    "not_needed": frozenset(),
    "failed": frozenset({"pending"}),
    "skipped": frozenset({"pending"}),
    "cancelled": frozenset({"pending"}),
}
"""Status -> the statuses a node may move to from it; ``-> pending`` is a run's retry;
``waiting -> failed``: a wait's timeout passed and it has no default answer."""

EventType = Literal[
    "run.scheduled",
    "run.queued",
    "run.running",
    "run.waiting",
    "run.in_subgraph",
    "run.sleeping",
    "run.succeeded",
    "run.failed",
    "run.cancelled",
    "run.cancel_requested",
    "run.stalled",
    "run.retried",
    "node.running",
    "node.waiting",
    "node.sleeping",
    "node.succeeded",
    "node.failed",
    "node.retrying",
    "node.interrupted",
    "node.skipped",
    "node.cancelled",
    "node.not_needed",
    "document.saved",
    "map.progress",
]
"""Every event type in the ``event`` table. ``run.<status>`` events carry ``{"status": ...}``;
``node.retrying`` carries ``retry_in`` (seconds) and ``retry_at`` (Unix time);
``node.interrupted``: an attempt was cut off by the death of its process and runs again;
``node.skipped`` carries ``reason`` (and ``untaken: true`` on an untaken branch path); a
branch's ``node.succeeded`` carries ``took``, the successors it took.

``map.progress``: how far a map node's elements are, written with their checkpoints (at most
a few a second): ``total``, ``succeeded``, ``failed`` (elements failed for good),
``running``, and ``failures`` (``[index, error_type, error]`` of elements that failed for
good since the last one).


``run.sleeping``, ``node.sleeping`` and the ``node.waiting`` of a wait with a timeout carry
``wake_at`` (ISO 8601, UTC); the ``run.queued`` of a run woken at its ``wake_at`` carries
``woken`` (the nodes that woke: sleeps ended, waits timed out)."""
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)

RUN_END_EVENTS: frozenset[str] = frozenset(f"run.{s}" for s in RUN_FINISHED)
SETTLING_EVENTS: frozenset[str] = frozenset(f"run.{s}" for s in RUN_SETTLED)

NODE_EVENT_STATUS: Mapping[str, NodeStatus] = {
    "node.running": "running",
    "node.waiting": "waiting",
    "node.sleeping": "sleeping",
    "node.succeeded": "succeeded",
    "node.failed": "failed",
    "node.retrying": "retrying",
    "node.interrupted": "retrying",
    "node.skipped": "skipped",
    "node.cancelled": "cancelled",
    "node.not_needed": "not_needed",
}
"""The node status a node event announces (``event_node_status`` tells a cache hit's
``node.succeeded`` apart)."""


def event_node_status(kind: str, data: Mapping[str, Any] | None) -> NodeStatus:
    """The node status a node event of type ``kind`` (one of ``NODE_EVENT_STATUS``) with
    ``data`` announces: ``cached`` for a cache hit's ``node.succeeded``."""
    if kind == "node.succeeded" and data and data.get("cached"):
        return "cached"
    return NODE_EVENT_STATUS[kind]


LABELS: Mapping[str, str] = {
    **{s: s for s in RUN_STATUSES},
    **{s: s for s in NODE_STATUSES},
    "not_needed": "not needed",
    "in_subgraph": "in sub-graph",
}
"""How people read a status (``not_needed`` -> ``not needed``)."""

UNTAKEN_LABEL = "skipped (untaken)"
"""How people read a skipped node on an untaken branch path (``untaken_nodes``)."""


def label(status: str) -> str:
    return LABELS.get(status, status)


def parked_label(status: str, wake_at: dt.datetime | None) -> str:
    """``sleeping until 14:05:00 UTC``, ``waiting until 14:05:00 UTC`` (a wait's timeout);
    the bare label without a wake time. The date is said when it is not today's."""
    if wake_at is None:
        return label(status)
    wake = wake_at.astimezone(dt.UTC)
    today = dt.datetime.now(dt.UTC).date()
    when = f"{wake:%H:%M:%S}" if wake.date() == today else f"{wake:%Y-%m-%d %H:%M:%S}"
    return f"{label(status)} until {when} UTC"


def node_status(
    row_status: str | None, will_retry: bool, run_status: str, cached: bool = False
) -> NodeStatus:
    """A node's status from its latest attempt row (``None``: no attempt) in a run of
    ``run_status``: a failed attempt another will follow is ``retrying`` while the run goes
    on; a succeeded one with ``cached`` (``NodeRun.cached_from`` set) is ``cached``."""
    if row_status is None:
        return "pending"
    if row_status == "succeeded" and cached:
        return "cached"
    if row_status == "failed" and will_retry:
        if run_status not in RUN_FINISHED:
            return "retrying"
        if run_status == "cancelled":
            return "cancelled"  # cancelled while it waited for its next attempt
    return row_status  # type: ignore[return-value]


def node_status_after_run_end(status: str, run_status: str) -> str:
    """A node's status once its run ended as ``run_status``: a cancel stops running and
    waiting nodes; a retry that will not come is a failure."""
    if status in NODE_OPEN and run_status in RUN_UNSUCCESSFUL:
        return "cancelled"
    if status == "retrying":
        return "cancelled" if run_status == "cancelled" else "failed"
    return status


def ends_at(events: Sequence[Mapping[str, Any]], i: int) -> bool:
    """Whether a run's events end at ``events[i]``: a run's end, unless a later event of
    the same batch retries the run (then its story goes on)."""
    if events[i]["type"] not in RUN_END_EVENTS:
        return False
    return not any(e["type"] == "run.retried" for e in events[i + 1 :])


def untaken_nodes(deps: Mapping[str, Sequence[str]], statuses: Mapping[str, str]) -> frozenset[str]:
    """The skipped nodes that are on untaken branch paths rather than behind a failure:
    those none of whose dependencies failed, was cancelled or was skipped for a failure.
    ``deps`` (node -> the nodes it depends on) is in topological order; every view draws
    these greyed, and the engine follows the same rule."""
    out: set[str] = set()
    for name, before in deps.items():
        if statuses.get(name) != "skipped":
            continue
        if all(d in out or statuses.get(d) not in NODE_BLOCKING for d in before):
            out.add(name)
    return frozenset(out)


def spec_deps(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """Node -> the nodes it depends on, in topological order, from a graph's spec."""
    return {n["name"]: list(n.get("depends_on", [])) for n in spec["nodes"]}
