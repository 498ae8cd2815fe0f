"""A node's policies in the editor's config panel: how it retries, how long it may take,
where it runs, when it starts, whether its result is cached.

The document keeps them on its node as ``policies`` (only those not at their default), under
the keys a draft node holds them (``runtime.drafts``: ``retries``, ``backoff``, ``timeout``,
``isolation``, ``max_interruptions``, ``pickle``, ``join``, ``cache``); ``to_draft`` copies
them onto the draft node as they are.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.nodes.node import ISOLATIONS
from studio.logic import editor

DEFAULTS: dict[str, Any] = {
    "retries": 0,
    "backoff": 1.0,
    "timeout": None,
    "isolation": None,
    "max_interruptions": 3,
    "pickle": None,
    "join": "all",
    "cache": False,
}
"""What a draft node means without the key (``runtime.drafts._POLICIES``, ``join``, ``cache``)."""
SHOWN = ("retries", "backoff", "timeout", "isolation", "max_interruptions", "join", "cache")
"""The ones the panel edits (``pickle`` is kept as the draft holds it, not shown)."""
NO_TIMEOUT = frozenset({"approval"})
"""Kinds whose timeout is an option of their own (an approval's deadline): a draft refuses
the policy on them."""

_LABELS = {
    "retries": "Retries",
    "backoff": "Backoff (seconds, doubles per retry)",
    "timeout": "Timeout (seconds)",
    "isolation": "Isolation",
    "max_interruptions": "Max interruptions",
    "join": "Join",
    "cache": "Cache",
}
_HINTS = {
    "retries": "how many times a failure is tried again",
    "timeout": "empty: no limit",
    "isolation": "empty: the workflow's default",
    "max_interruptions": "how many worker losses it survives",
    "join": "all: after every upstream node; any: after the first",
    "cache": "off, on, or a number of seconds a result is kept",
}


@dataclass
class PolicyField:
    name: str
    """The draft node's key."""
    label: str
    kind: str
    """integer | number | choice | cache"""
    value: str = ""
    """The text the input shows."""
    choices: list[str] = field(default_factory=list)
    hint: str = ""
    error: str = ""
    """Why the last text typed into it was refused."""


def policies_of(node: Mapping[str, Any]) -> dict[str, Any]:
    """The node's policies, each key there (the defaults filled in)."""
    held = node.get("policies") or {}
    return {k: held.get(k, default) for k, default in DEFAULTS.items()}


def policy_fields(
    kind: str, node: Mapping[str, Any], errors: Mapping[str, str] | None = None
) -> list[PolicyField]:
    """One field per policy the panel edits, showing the node's value; ``errors``: why the
    last text typed into a field was refused (shown next to it)."""
    values = policies_of(node)
    out = []
    for name in SHOWN:
        if name == "timeout" and kind in NO_TIMEOUT:
            continue
        out.append(
            PolicyField(
                name=name,
                label=_LABELS[name],
                kind=_KINDS[name],
                value=shown(name, values[name]),
                choices=list(_CHOICES.get(name, ())),
                hint=_HINTS.get(name, ""),
                error=(errors or {}).get(name, ""),
            )
        )
    return out


_KINDS = {
    "retries": "integer",
    "backoff": "number",
    "timeout": "number",
    "isolation": "choice",
    "max_interruptions": "integer",
    "join": "choice",
    "cache": "cache",
}
_CHOICES: dict[str, tuple[str, ...]] = {"isolation": ("", *ISOLATIONS), "join": ("all", "any")}


def shown(name: str, value: Any) -> str:
    """The text a field shows for a policy's value."""
    if name == "cache":
        if value is True:
            return "on"
        if value is False or value is None:
            return "off"
        return _number(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def policy_value(kind: str, name: str, raw: Any) -> Any:
    """The policy value typed into field ``name`` (the default when cleared); ``ValueError``
    says why the text is no such value."""
    if name not in SHOWN:
        raise ValueError(f"{name}: not a policy")
    if name == "timeout" and kind in NO_TIMEOUT:
        raise ValueError(f"timeout: an {kind}'s timeout is its deadline option")
    text = "" if raw is None else str(raw).strip()
    if name in ("retries", "max_interruptions"):
        if text == "":
            return DEFAULTS[name]
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not a whole number") from None
        if number < 0:
            raise ValueError(f"{name}: must be 0 or more")
        return number
    if name in ("backoff", "timeout"):
        if text == "":
            return DEFAULTS[name]
        seconds = _seconds(name, text)
        if name == "timeout" and seconds == 0:
            raise ValueError("timeout: must be more than 0 seconds (empty: no limit)")
        return seconds
    if name == "cache":
        lowered = text.lower()
        if lowered in ("", "off", "false", "no"):
            return False
        if lowered in ("on", "true", "yes"):
            return True
        seconds = _seconds(name, text, what="off, on or a number of seconds")
        if seconds == 0:
            return False
        return seconds
    if text == "":
        return DEFAULTS[name]
    if text not in _CHOICES[name]:
        raise ValueError(
            f"{name}: {text!r} is not one of {', '.join(c for c in _CHOICES[name] if c)}"
        )
    return text


def _seconds(name: str, text: str, what: str = "a number of seconds") -> float | int:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not {what}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name}: {text!r} is not {what}")
    return int(number) if number.is_integer() else number


def set_policy(doc: Mapping[str, Any], node: str, name: str, value: Any) -> editor.Document:
    """The document with policy ``name`` of ``node`` set to ``value`` (the default: taken
    off the node, as a draft need not hold it)."""
    out = copy.deepcopy(dict(doc))
    for item in out["nodes"]:
        if item["name"] != node:
            continue
        held = dict(item.get("policies") or {})
        if _is_default(name, value):
            held.pop(name, None)
        else:
            held[name] = value
        if held:
            item["policies"] = held
        else:
            item.pop("policies", None)
    return out


def from_draft_node(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The policies a draft node holds that are not at their default (what the document
    keeps on its node)."""
    return {
        k: entry[k]
        for k, default in DEFAULTS.items()
        if k in entry and not _is_default(k, entry[k])
    }


def _is_default(name: str, value: Any) -> bool:
    default = DEFAULTS.get(name)
    # ``cache: 0`` is no default: ``True == 1`` and ``False == 0`` must not pass for numbers
    return value == default and isinstance(value, bool) == isinstance(default, bool)
