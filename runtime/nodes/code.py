"""``code``: a Python snippet defining ``main(...)``, run in a sandbox process
(``runtime.nodes.sandbox``: no network, rlimits, an empty environment, a scratch directory,
a wall-clock timeout). ``main``'s parameters wire like a function node's (a node's name: its
output; otherwise a run input); its JSON arguments go in on stdin and its return value, JSON,
is the output. Its stdout and stderr (the last ``max_output_kb`` of each, redacted like log
lines) are the node's logs and its ``stdout`` / ``stderr`` documents, kept also when the code
fails or times out; the ``code_run`` document says which attempt they are from, how long it
ran and how it ended (``runtime.details`` reads them for the views)."""

from __future__ import annotations

import ast
import contextlib
import json
import math
from typing import TYPE_CHECKING, Any

import pydantic

from runtime.errors import GraphError
from runtime.nodes.kind import Call, NodeKind

if TYPE_CHECKING:
    from runtime.nodes.node import Node

RUN_DOCUMENT = "code_run"
"""The document each attempt of a ``code`` node that reached its sandbox saves: attempt,
``elapsed_ms``, ``error`` (``None`` when main returned)."""


class CodeOptions(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    source: str = pydantic.Field(
        description="Python defining main(...); its return value is the output."
    )
    timeout: float = pydantic.Field(default=30.0, gt=0, le=3600, description="Wall-clock seconds.")
    memory_mb: int = pydantic.Field(default=256, ge=32, le=65536, description="Address space.")
    cpu_seconds: int | None = pydantic.Field(
        default=None, ge=1, description="CPU seconds (the timeout rounded up when not given)."
    )
    max_processes: int = pydantic.Field(default=16, ge=1, le=1024)
    max_file_mb: int = pydantic.Field(default=64, ge=1, description="Largest file it may write.")
    max_output_kb: int = pydantic.Field(
        default=64, ge=1, le=10240, description="Stdout and stderr kept, each."
    )


class CodeKind(NodeKind):
    """Runs untrusted Python in a sandbox: no network, CPU/memory/process limits, no
    environment, a scratch directory only."""

    name = "code"
    options = CodeOptions

    def prepare(self, node: Node) -> None:
        opts = self.configured(node)
        assert isinstance(opts, CodeOptions)
        for param, default in _parameters(node.name, opts.source).items():
            node.inputs.setdefault(param, param)
            if default is not _REQUIRED:
                node.defaults[param] = default

    def call(self, node: Node, kwargs: dict[str, Any]) -> Call:
        return Call(execute, {"node": node.name, "options": node.options or {}, "args": kwargs})

    def fingerprint(self, node: Node) -> str:
        return json.dumps(node.options or {}, sort_keys=True)


_REQUIRED = object()


def _parameters(node: str, source: str) -> dict[str, Any]:
    """``main``'s parameters -> default (literal) or ``_REQUIRED``; ``GraphError`` naming the
    node when the source does not parse or defines no usable ``main``."""
    try:
        tree = ast.parse(source, filename=f"<code node {node}>")
    except SyntaxError as exc:
        raise GraphError(
            f"code node {node!r}: source does not parse: {exc.msg} (line {exc.lineno})"
        ) from None
    mains = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "main"
    ]
    if not mains:
        raise GraphError(f"code node {node!r}: source defines no top-level def main(...)")
    fn = mains[-1]
    if isinstance(fn, ast.AsyncFunctionDef):
        raise GraphError(f"code node {node!r}: main must be a plain def, not async")
    a = fn.args
    if a.vararg or a.kwarg or a.posonlyargs:
        raise GraphError(
            f"code node {node!r}: main's parameters are wired by name: no *args, **kwargs or "
            "positional-only ones"
        )
    params: dict[str, Any] = {}
    plain = a.args
    defaults = [_REQUIRED] * (len(plain) - len(a.defaults)) + list(a.defaults)
    pairs = list(zip(plain, defaults, strict=True)) + list(
        zip(a.kwonlyargs, [d if d is not None else _REQUIRED for d in a.kw_defaults], strict=True)
    )
    for arg, default in pairs:
        if default is _REQUIRED:
            params[arg.arg] = _REQUIRED
            continue
        try:
            params[arg.arg] = ast.literal_eval(default)  # type: ignore[arg-type]
        except ValueError:
            raise GraphError(
                f"code node {node!r}: main's default for {arg.arg!r} must be a literal"
            ) from None
    return params


def execute(node: str, options: dict, args: dict) -> Any:
    """What a code node's attempt calls (module level: a child process can receive it)."""
    from runtime.nodes import sandbox

    opts = CodeOptions.model_validate(options)
    try:
        json.dumps(args)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"code node {node!r}: its arguments must be JSON: {exc}") from None
    limits = sandbox.Limits(
        timeout=opts.timeout,
        memory_mb=opts.memory_mb,
        cpu_seconds=opts.cpu_seconds or math.ceil(opts.timeout) + 1,
        max_processes=opts.max_processes,
        max_file_mb=opts.max_file_mb,
        max_output_bytes=opts.max_output_kb * 1024,
    )
    try:
        outcome = sandbox.run(node, opts.source, args, limits)
    except sandbox.CodeError as exc:
        message, stdout, stderr, elapsed = exc.args
        lines = message.splitlines()  # main raised: the traceback's last line says what
        _keep(stdout, stderr, elapsed, lines[-1] if len(lines) > 1 else message)
        raise sandbox.CodeError(message) from None
    _keep(outcome.stdout, outcome.stderr, outcome.elapsed_ms, None)
    _log(f"code ran in {outcome.elapsed_ms} ms")
    return outcome.value


def _keep(stdout: str, stderr: str, elapsed_ms: float, error: str | None) -> None:
    from runtime.context import current
    from runtime.errors import PlaitError

    with contextlib.suppress(PlaitError):  # outside a node attempt: nowhere to keep them
        ctx = current()
        ctx.save_document(
            RUN_DOCUMENT, {"attempt": ctx.attempt, "elapsed_ms": elapsed_ms, "error": error}, "json"
        )
        for name, text in (("stdout", stdout), ("stderr", stderr)):
            # an attempt after one that printed saves its own, even empty: never a stale one
            if text or ctx.attempt > 1:
                ctx.save_document(name, ctx.redactor.text(text), "text")
            for line in text.splitlines()[:200]:
                ctx.log(f"{name}: {line}")


def _log(line: str) -> None:
    from runtime.context import current
    from runtime.errors import PlaitError

    with contextlib.suppress(PlaitError):
        current().log(line)
