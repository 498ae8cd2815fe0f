"""``branch``: a function that decides which of its successors run. It returns the name of
one successor, or a list of names; its other successors are ``skipped`` as untaken, and so is
everything only they lead to (``runtime.statuses.untaken_nodes``). Its output, the decision, is
checkpointed like any node's, so a resumed or retried run takes the same path.

The successors it chooses among are the nodes that depend on it directly, except those that
also depend on one of them (a join after the branches, reading the branch's value too)."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runtime.errors import GraphError
from runtime.nodes.function import FunctionKind

if TYPE_CHECKING:
    from runtime.nodes.node import Node


class BranchError(ValueError):
    """A branch returned something other than the names of successors it may take."""


class BranchKind(FunctionKind):
    name = "branch"
    routes = True

    def untaken(self, node: Node, value: Any, choices: Sequence[str]) -> set[str]:
        return set(choices) - set(taken(node.name, value, choices))

    def check_placed(self, node: Node, choices: Sequence[str]) -> None:
        if not choices:
            raise GraphError(
                f"branch {node.name!r} has no successors to choose from: add nodes that "
                f"take {node.name!r} as a parameter (or after=[{node.name!r}])"
            )
        declared = _declared_names(node)
        unknown = sorted(n for n in declared if n not in choices)
        if unknown:
            raise GraphError(
                f"branch {node.name!r} is declared to return {', '.join(map(repr, unknown))}, "
                f"which {'is' if len(unknown) == 1 else 'are'} not among its successors "
                f"({', '.join(choices)})"
            )


def taken(branch: str, value: Any, choices: Sequence[str]) -> list[str]:
    """The successors a branch's returned ``value`` takes; ``BranchError`` names the valid
    ones when it is not a name or list of names among ``choices``."""
    names = [value] if isinstance(value, str) else value
    valid = ", ".join(choices)
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise BranchError(
            f"branch {branch!r} must return the name of a successor or a list of names "
            f"(one of: {valid}), got {type(value).__name__} {value!r:.80}"
        )
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise BranchError(
            f"branch {branch!r} returned {', '.join(map(repr, unknown))}, which "
            f"{'is' if len(unknown) == 1 else 'are'} not among its successors (one of: {valid})"
        )
    return list(dict.fromkeys(names))


def choices_of(name: str, successors: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The direct successors of ``name`` that are not downstream of another of them."""
    direct = successors[name]
    below: set[str] = set()
    todo = [s for d in direct for s in successors[d]]
    while todo:
        current = todo.pop()
        if current not in below:
            below.add(current)
            todo.extend(successors[current])
    return tuple(s for s in direct if s not in below)


def _declared_names(node: Node) -> list[str]:
    """Names a ``Literal[...]`` return annotation promises (none for a plain ``str``)."""
    try:
        hint = typing.get_type_hints(node.target).get("return")
    except Exception:
        return []
    out: list[str] = []
    todo = [hint]
    while todo:
        current = todo.pop()
        if typing.get_origin(current) is typing.Literal:
            out += [a for a in typing.get_args(current) if isinstance(a, str)]
        else:
            todo.extend(a for a in typing.get_args(current) if a is not type(None))
    return out
