"""``sleep``: a durable timer. When its dependencies are done the node sleeps ``seconds``
(from then) or ``until`` a time; the run parks ``sleeping`` with its wake time, holding no
worker, thread or lease, and the scheduler (or a worker's reaper) queues it again when it is
due, whichever process that is. Its output is the wake time (an aware ``datetime``), so
downstream nodes can depend on it by name or with ``after=``."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pydantic

from runtime.errors import GraphError
from runtime.nodes.kind import NodeKind, Woken

if TYPE_CHECKING:
    from runtime.nodes.node import Node

UNTIL = "until"
"""The parameter a sleep reads its wake time from when ``until=`` names a run input or a
node."""


class SleepOptions(pydantic.BaseModel):
    """How long a sleep node sleeps: ``seconds`` from its start, ``until`` a time (an aware
    datetime), or until the datetime the run input or node ``until_from`` names holds. A
    sleep added by kind (a draft's) is the node ``g.sleep`` makes of the same: its spec
    holds them under ``sleep``, not as options."""

    model_config = pydantic.ConfigDict(extra="forbid")

    seconds: float | None = pydantic.Field(default=None, ge=0, description="Seconds to sleep.")
    until: dt.datetime | None = pydantic.Field(
        default=None, description="A timezone-aware time to sleep until (ISO 8601)."
    )
    until_from: str | None = pydantic.Field(
        default=None, description="A run input or node holding the time to sleep until."
    )


class SleepKind(NodeKind):
    name = "sleep"
    parks = "sleeping"
    options = SleepOptions

    def prepare(self, node: Node) -> None:
        opts = SleepOptions.model_validate(node.options or {})
        given = {k: v for k, v in opts.model_dump().items() if v is not None}
        if opts.until is not None and opts.until_from is not None:
            raise GraphError(
                f"sleep node {node.name!r}: field until_from: give until or until_from, not both"
            )
        if not given:
            raise GraphError(
                f"sleep node {node.name!r}: field seconds: give seconds, until or until_from"
            )
        until = opts.until if opts.until is not None else opts.until_from
        try:
            node.config, wired = sleep_config(node.name, opts.seconds, until)
        except GraphError as exc:
            field = next(iter(given), "seconds") if len(given) == 1 else "seconds"
            said = str(exc).removeprefix(f"sleep node {node.name!r}: ")
            raise GraphError(f"sleep node {node.name!r}: field {field}: {said}") from None
        node.inputs = wired
        node.options = None  # as g.sleep's node: its config is its spec's ``sleep`` entry

    def check(self, node: Node) -> None:
        defaults = {"retries": 0, "backoff": 1.0, "timeout": None, "isolation": None}
        given = [k for k, v in defaults.items() if getattr(node, k) != v]
        if node.secrets:
            given.append("secrets")
        if given:
            raise GraphError(f"sleep node {node.name!r} takes no {', '.join(given)}")

    def wake_at(self, node: Node, now: dt.datetime, kwargs: dict[str, Any]) -> dt.datetime:
        if UNTIL in node.inputs:
            return aware(node, kwargs.get(UNTIL), f"the value of {node.inputs[UNTIL]!r}")
        if "until" in node.config:
            return dt.datetime.fromisoformat(node.config["until"])
        return now + dt.timedelta(seconds=float(node.config["seconds"]))

    def woken(self, node: Node, wake_at: dt.datetime) -> Woken:
        return Woken(wake_at.astimezone(dt.UTC).isoformat())

    def load(self, node: Node, value: Any) -> Any:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else value

    def describe(self, node: Node) -> dict[str, Any]:
        if UNTIL in node.inputs:
            return {"sleep": {"until_from": node.inputs[UNTIL]}}
        return {"sleep": dict(node.config)}

    def fingerprint(self, node: Node) -> str:
        return json.dumps(self.describe(node), sort_keys=True)


def aware(node: Node, value: Any, what: str) -> dt.datetime:
    """``value`` as an aware datetime; ``ValueError`` naming the node otherwise."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise ValueError(
            f"sleep node {node.name!r}: until must be a datetime, but {what} is "
            f"{type(value).__name__} {value!r}"
        )
    if value.tzinfo is None:
        raise ValueError(
            f"sleep node {node.name!r}: until must be timezone-aware, but {what} is the naive "
            f"{value.isoformat()} (add tzinfo, e.g. datetime.now(timezone.utc))"
        )
    return value


def sleep_config(
    name: str, seconds: float | dt.timedelta | None, until: dt.datetime | str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A sleep node's ``config`` and ``inputs`` from ``g.sleep``'s arguments; ``GraphError``
    names what is wrong."""
    if (seconds is None) == (until is None):
        raise GraphError(f"sleep node {name!r}: give exactly one of seconds= or until=")
    if seconds is not None:
        if isinstance(seconds, dt.timedelta):
            seconds = seconds.total_seconds()
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise GraphError(
                f"sleep node {name!r}: seconds must be a number >= 0 (or a timedelta), "
                f"got {seconds!r}"
            )
        return {"seconds": float(seconds)}, {}
    if isinstance(until, str):
        if not until.isidentifier():
            raise GraphError(
                f"sleep node {name!r}: until={until!r} must be a datetime or the name of a run "
                "input or node holding one"
            )
        return {}, {UNTIL: until}
    if not isinstance(until, dt.datetime):
        raise GraphError(
            f"sleep node {name!r}: until must be a timezone-aware datetime, got "
            f"{type(until).__name__}"
        )
    if until.tzinfo is None:
        raise GraphError(
            f"sleep node {name!r}: until={until.isoformat()} is naive; give a timezone-aware "
            "datetime (e.g. datetime(..., tzinfo=timezone.utc))"
        )
    return {"until": until.astimezone(dt.UTC).isoformat()}, {}
