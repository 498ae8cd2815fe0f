"""Run inputs checked against the types the node functions declare, before a run starts.

One function, ``validate_inputs``, serves every entry point (``g.run``/``Client.start``,
``Client.start_version`` for the REST API, the studio form, triggers, and the CLI's ``-i``):
a missing, unexpected or ill-typed input is an ``InvalidInputs`` error naming the input and
the type it expects, raised before anything is stored.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from runtime.errors import InputError

if TYPE_CHECKING:
    from runtime.graph import Graph

_PLAIN = (str, int, float, bool, type(None), list, dict)
"""Values handed on as coerced: plain data. Other validated values (a model built from a
dict, a tuple from a list) pass as given, so what is stored stays what the caller sent."""


class InvalidInputs(InputError):
    """Run inputs that do not match their declared types (an ``InputError``)."""

    def __init__(self, message: str, problems: dict[str, str]) -> None:
        super().__init__(message)
        self.problems = problems
        """Run input -> what is wrong with it."""


@dataclass(frozen=True)
class Expected:
    """One declared type of a run input: a parameter that it feeds."""

    node: str
    param: str
    annotation: Any

    @property
    def type_name(self) -> str:
        return type_name(self.annotation)


def expected_types(graph: Graph) -> dict[str, list[Expected]]:
    """Run input -> the declared types of the parameters it feeds (unannotated ones and
    ``Any`` left out)."""
    out: dict[str, list[Expected]] = {}
    for node in graph.nodes.values():
        for param, source in node.inputs.items():
            if source in graph.nodes:
                continue
            annotation = node.annotations.get(param, Any)
            if annotation is Any or _adapter(annotation) is None:
                continue
            out.setdefault(source, []).append(Expected(node.name, param, annotation))
    return out


def validate_inputs(
    graph: Graph,
    inputs: Mapping[str, Any],
    *,
    from_text: bool = False,
    outputs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``inputs`` checked for presence and against every declared type, coerced where
    pydantic's lax mode allows (``"3"`` for an ``int``); raises ``InvalidInputs``. With
    ``outputs``, only inputs read by the nodes they need are required.

    ``from_text``: the values are command-line text. An input typed ``str`` keeps its text;
    others are read as the type, then as JSON (``[1, 2]`` for a ``list[int]``); an untyped
    input is JSON when it parses, else the text.
    """
    from runtime.graph import check_run_inputs

    used = {s for n in graph.needed_for(outputs) for s in graph.nodes[n].inputs.values()}
    required = {n: d is _required() and n in used for n, d in graph.plan.run_inputs.items()}
    check_run_inputs(graph.name, required, inputs)
    expected = expected_types(graph)
    checked: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, given in inputs.items():
        value = _untyped_text(given) if from_text and name not in expected else given
        for want in expected.get(name, []):
            try:
                coerced = _coerce(want.annotation, given, from_text)
            except pydantic.ValidationError as exc:
                problems[name] = (
                    f"input {name!r} expects {want.type_name} (parameter {want.param!r} of node "
                    f"{want.node!r}), got {_shown(given)}: {_first_error(exc)}"
                )
                break
            if value is given and (from_text or isinstance(coerced, _PLAIN)):
                value = coerced
        checked[name] = value
    if problems:
        raise InvalidInputs(f"graph {graph.name!r}: " + "; ".join(problems.values()), problems)
    return checked


def type_name(annotation: Any) -> str:
    """``int``, ``list[int]``, ``pandas.DataFrame``: how an error names a type."""
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        module = annotation.__module__
        return (
            annotation.__qualname__
            if module == "builtins"
            else f"{module}.{annotation.__qualname__}"
        )
    return repr(annotation).replace("typing.", "")


def _coerce(annotation: Any, given: Any, from_text: bool) -> Any:
    adapter = _adapter(annotation)
    assert adapter is not None
    if not from_text or not isinstance(given, str):
        return adapter.validate_python(given)
    try:
        return adapter.validate_python(given)
    except pydantic.ValidationError as exc:
        try:
            return adapter.validate_json(given)
        except pydantic.ValidationError:
            raise exc from None


def _untyped_text(text: Any) -> Any:
    import json

    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@functools.cache
def _cached_adapter(annotation: Any) -> pydantic.TypeAdapter[Any] | None:
    try:
        return pydantic.TypeAdapter(annotation)
    except pydantic.PydanticSchemaGenerationError:
        pass
    except Exception:
        return None
    try:  # a class pydantic has no schema for (a DataFrame): an isinstance check
        return pydantic.TypeAdapter(
            annotation, config=pydantic.ConfigDict(arbitrary_types_allowed=True)
        )
    except Exception:
        return None


def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any] | None:
    try:
        return _cached_adapter(annotation)
    except TypeError:  # unhashable annotation
        return _cached_adapter.__wrapped__(annotation)


def _first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type_name(type(value))})"


def _required() -> Any:
    import inspect

    return inspect.Parameter.empty
