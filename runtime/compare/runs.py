"""Two runs node by node: which nodes are unchanged, changed (output, status, definition)
or only in one run, with value diffs, timing and attempts; and the runs' inputs and
versions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from runtime import statuses
from runtime.compare.values import SAME, ValueDiff, diff_values
from runtime.errors import PlaitError

if TYPE_CHECKING:
    from runtime.client import Run
    from runtime.store import tables as t

NodeChange = Literal["unchanged", "changed", "only_in_a", "only_in_b"]

Pair = tuple[Any, Any]
"""A fact of run A and the same fact of run B."""

_DEFINITION = ("kind", "depends_on", "inputs", "after", "policies", "schema")
"""What of a node's spec entry counts as its definition (``code`` says where, not what)."""


@dataclass
class NodeDiff:
    """One node in two runs."""

    name: str
    change: NodeChange
    reasons: list[str] = field(default_factory=list)
    """Why it is ``changed``: ``output``, ``status``, ``error``, ``definition``."""
    status: Pair = (None, None)
    attempts: Pair = (0, 0)
    duration: Pair = (None, None)
    """Seconds each run's latest attempt took (``None``: it did not finish)."""
    value: ValueDiff | None = None
    """The outputs compared, when the node succeeded in both runs."""
    error: Pair = (None, None)
    definition: list[str] = field(default_factory=list)
    """How the node's spec entry differs (``policies``, ``depends_on``...)."""

    @property
    def duration_delta(self) -> float | None:
        a, b = self.duration
        return None if a is None or b is None else b - a

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.change,
            "reasons": self.reasons,
            "status": list(self.status),
            "attempts": list(self.attempts),
            "duration": list(self.duration),
            "duration_delta": self.duration_delta,
            "value": self.value.to_dict() if self.value else None,
            "error": list(self.error),
            "definition": self.definition,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeDiff:
        value = data.get("value")
        return cls(
            name=data["name"],
            change=data["change"],
            reasons=list(data.get("reasons", [])),
            status=_pair(data.get("status")),
            attempts=_pair(data.get("attempts"), 0),
            duration=_pair(data.get("duration")),
            value=ValueDiff.from_dict(value) if value else None,
            error=_pair(data.get("error")),
            definition=list(data.get("definition", [])),
        )


def _pair(value: Any, default: Any = None) -> Pair:
    if not value:
        return (default, default)
    return (value[0], value[1])


@dataclass
class RunDiff:
    """How run B differs from run A. ``changed``, ``unchanged``, ``only_in_a`` and
    ``only_in_b`` map node names to their ``NodeDiff``; it displays in a notebook."""

    a: str
    b: str
    workflow: Pair
    version: Pair
    status: Pair
    duration: Pair
    inputs: dict[str, ValueDiff]
    """Every run input of either run (only in one: compared with ``None``)."""
    nodes: dict[str, NodeDiff]
    """Every node of either run, B's order first."""
    replay_of: Pair = (None, None)

    def _where(self, change: NodeChange) -> dict[str, NodeDiff]:
        return {n: d for n, d in self.nodes.items() if d.change == change}

    @property
    def changed(self) -> dict[str, NodeDiff]:
        return self._where("changed")

    @property
    def unchanged(self) -> dict[str, NodeDiff]:
        return self._where("unchanged")

    @property
    def only_in_a(self) -> dict[str, NodeDiff]:
        return self._where("only_in_a")

    @property
    def only_in_b(self) -> dict[str, NodeDiff]:
        return self._where("only_in_b")

    @property
    def inputs_changed(self) -> dict[str, ValueDiff]:
        return {k: v for k, v in self.inputs.items() if not v.equal}

    @property
    def same(self) -> bool:
        """No node changed or only in one run, and the same inputs."""
        return not self.inputs_changed and all(d.change == "unchanged" for d in self.nodes.values())

    def summary(self) -> str:
        counts = [
            (len(self.changed), "changed"),
            (len(self.unchanged), "unchanged"),
            (len(self.only_in_a), "only in A"),
            (len(self.only_in_b), "only in B"),
        ]
        text = ", ".join(f"{n} {what}" for n, what in counts if n) or "no nodes"
        if self.inputs_changed:
            text += f"; inputs changed: {', '.join(self.inputs_changed)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "workflow": list(self.workflow),
            "version": list(self.version),
            "status": list(self.status),
            "duration": list(self.duration),
            "replay_of": list(self.replay_of),
            "summary": self.summary(),
            "inputs": {k: v.to_dict() for k, v in self.inputs.items()},
            "nodes": [d.to_dict() for d in self.nodes.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunDiff:
        return cls(
            a=data["a"],
            b=data["b"],
            workflow=_pair(data.get("workflow")),
            version=_pair(data.get("version")),
            status=_pair(data.get("status")),
            duration=_pair(data.get("duration")),
            replay_of=_pair(data.get("replay_of")),
            inputs={k: ValueDiff.from_dict(v) for k, v in data.get("inputs", {}).items()},
            nodes={d["name"]: NodeDiff.from_dict(d) for d in data.get("nodes", [])},
        )

    def text(self) -> str:
        from runtime.compare.render import as_text

        return as_text(self)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<RunDiff {self.a} → {self.b}: {self.summary()}>"

    def _repr_html_(self) -> str:
        from runtime.compare.render import as_html

        return as_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": self.text()}


Shown = Callable[[Any], Any]
"""What a value becomes before it is compared (a run's redaction)."""


def diff_runs(a: Run, b: Run, *, redact: bool = False) -> RunDiff:
    """Compare run ``b`` with run ``a`` through their handles' reads: values are loaded the
    way ``Run.output`` loads them, and only for nodes that succeeded in both runs whose
    stored values are not the same reference. ``redact``: compare the values as the runs'
    redaction shows them (what the API, the CLI and the studio use)."""
    side_a, side_b = _Side(a, redact), _Side(b, redact)
    nodes: dict[str, NodeDiff] = {}
    for name in [*side_b.entries, *(n for n in side_a.entries if n not in side_b.entries)]:
        if name not in side_a.entries:
            nodes[name] = _one_side(name, "only_in_b", None, side_b.info(name))
        elif name not in side_b.entries:
            nodes[name] = _one_side(name, "only_in_a", side_a.info(name), None)
        else:
            nodes[name] = _node(name, side_a, side_b)
    rec_a, rec_b = side_a.record, side_b.record
    return RunDiff(
        a=a.id,
        b=b.id,
        workflow=(side_a.spec["name"], side_b.spec["name"]),
        version=(side_a.version, side_b.version),
        status=(rec_a.status, rec_b.status),
        duration=(
            _seconds(rec_a.started_at, rec_a.ended_at),
            _seconds(rec_b.started_at, rec_b.ended_at),
        ),
        replay_of=(getattr(rec_a, "replay_of", None), getattr(rec_b, "replay_of", None)),
        inputs=_inputs(side_a, side_b),
        nodes=nodes,
    )


@dataclass(frozen=True)
class _Info:
    """A node's latest attempt as the diff reads it."""

    status: str
    attempts: int
    duration: float | None
    error: str | None


class _Side:
    """One run, each of its facts read once."""

    def __init__(self, run: Run, redact: bool) -> None:
        self.run = run
        self.record = run.record
        store = getattr(run.client, "store", None)
        self.version: str | None = None
        if store is not None:  # the version row holds the spec: one read for both
            stored = store.get_version(self.record.version_id)
            self.spec, self.version = stored.spec, str(stored.version)
        else:
            self.spec = run.spec
        self.entries = {n["name"]: n for n in self.spec["nodes"]}
        self.rows: dict[str, t.NodeRun] = {}
        for row in run.client.run_attempts(run.id):
            self.rows[row.node] = row
        self.shown = _shown(run, redact)

    def info(self, name: str) -> _Info:
        row = self.rows.get(name)
        status = statuses.node_status(
            row.status if row else None, bool(row and row.will_retry), self.record.status
        )
        if row is None:
            return _Info(status, 0, None, None)
        took = _seconds(row.started_at, row.ended_at)
        return _Info(status, row.attempt, took, row.error_message)

    def load(self, row: t.NodeRun) -> Any:
        return self.shown(self.run.client.load_output(self.run.id, row))


def _shown(run: Run, redact: bool) -> Shown:
    if not redact:
        return lambda value: value
    from runtime import redaction

    return redaction.for_run(run).value


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _one_side(name: str, change: NodeChange, a: Any, b: Any) -> NodeDiff:
    info = a or b
    side = (lambda v: (v, None)) if a else (lambda v: (None, v))
    return NodeDiff(
        name,
        change,
        status=side(info.status),
        attempts=side(info.attempts),
        duration=side(info.duration),
        error=side(info.error),
    )


def _node(name: str, a: _Side, b: _Side) -> NodeDiff:
    ia, ib = a.info(name), b.info(name)
    reasons: list[str] = []
    definition = [
        aspect
        for aspect in _DEFINITION
        if a.entries[name].get(aspect) != b.entries[name].get(aspect)
    ]
    if definition:
        reasons.append("definition")
    if ia.status != ib.status:
        reasons.append("status")
    if ia.error != ib.error:
        reasons.append("error")
    value = None
    ra, rb = a.rows.get(name), b.rows.get(name)
    if ra and rb and ra.status == "succeeded" and rb.status == "succeeded":
        value = _outputs(a, b, ra, rb)
        if not value.equal:
            reasons.append("output")
    return NodeDiff(
        name,
        "changed" if reasons else "unchanged",
        reasons,
        status=(ia.status, ib.status),
        attempts=(ia.attempts, ib.attempts),
        duration=(ia.duration, ib.duration),
        value=value,
        error=(ia.error, ib.error),
        definition=definition,
    )


def _outputs(a: _Side, b: _Side, ra: t.NodeRun, rb: t.NodeRun) -> ValueDiff:
    if _same_reference(ra, rb):
        return SAME  # a replay's reused checkpoint, or the same bytes: nothing to load
    try:
        va, vb = a.load(ra), b.load(rb)
    except PlaitError as exc:  # a value this process may not read (a pickle without its key)
        return ValueDiff("other", False, f"cannot be compared here: {exc}")
    return diff_values(va, vb)


def _same_reference(a: t.NodeRun, b: t.NodeRun) -> bool:
    if a.output_codec is None or a.output_codec != b.output_codec:
        return False
    if a.output_blob is not None:
        return a.output_blob == b.output_blob
    return a.output_inline is not None and a.output_inline == b.output_inline


def _inputs(a: _Side, b: _Side) -> dict[str, ValueDiff]:
    """Each run's inputs as it ran with them: those given, and the defaults of the others."""
    try:
        inputs_a, inputs_b = (s.shown({**_defaults(s.spec), **s.run.inputs}) for s in (a, b))
    except PlaitError as exc:
        return {"*": ValueDiff("other", False, f"inputs cannot be compared here: {exc}")}
    out = {}
    for name in [*inputs_b, *(n for n in inputs_a if n not in inputs_b)]:
        if name not in inputs_a:
            out[name] = ValueDiff("other", False, "only in B", [f"+ {inputs_b[name]!r}"])
        elif name not in inputs_b:
            out[name] = ValueDiff("other", False, "only in A", [f"- {inputs_a[name]!r}"])
        else:
            out[name] = diff_values(inputs_a[name], inputs_b[name])
    return out


def _defaults(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        name: entry["default"]
        for name, entry in spec.get("inputs", {}).items()
        if not entry.get("required") and "default" in entry
    }
