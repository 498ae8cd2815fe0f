"""Plait: build a workflow as a Python graph, run it durably, watch it live.

import runtime as rt

g = rt.Graph("hello")

@g.node
def greeting(name: str = "world") -> str:
    return f"hello {name}"

run = g.run(name="Plait").wait()
run.outputs  # {'greeting': 'hello Plait'}
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported when first used: node code in an isolated child process imports
# ``runtime`` for ``rt.current()``, and must get neither the store, the engine and the
# configuration (keys, database URLs) nor their second of import time.
_EXPORTS = {
    "Client": "runtime.client",
    "NodeInfo": "runtime.client",
    "Run": "runtime.client",
    "connect": "runtime.client",
    "default_client": "runtime.client",
    "Picture": "runtime.codecs",
    "RunDiff": "runtime.compare",
    "NodeContext": "runtime.context",
    "current": "runtime.context",
    "secret": "runtime.context",
    "CodecError": "runtime.errors",
    "GraphError": "runtime.errors",
    "InputError": "runtime.errors",
    "NotFound": "runtime.errors",
    "OptionError": "runtime.errors",
    "PayloadError": "runtime.errors",
    "PlaitError": "runtime.errors",
    "RunStateError": "runtime.errors",
    "SignatureError": "runtime.errors",
    "LegacySignature": "runtime.errors",
    "MissingSigningKey": "runtime.errors",
    "TamperedCode": "runtime.errors",
    "UnknownSigningKey": "runtime.errors",
    "Graph": "runtime.graph",
    "Node": "runtime.graph",
    "nodes": "runtime.nodes",  # the package itself: rt.nodes.http(...), rt.nodes.template(...)
    "testing": "runtime.testing",  # a module: ``rt.testing.run(...)``
}

if TYPE_CHECKING:
    from runtime import nodes, testing
    from runtime.client import Client, NodeInfo, Run, connect, default_client
    from runtime.codecs import Picture
    from runtime.compare import RunDiff
    from runtime.context import NodeContext, current, secret
    from runtime.errors import (
        CodecError,
        GraphError,
        InputError,
        LegacySignature,
        MissingSigningKey,
        NotFound,
        OptionError,
        PayloadError,
        PlaitError,
        RunStateError,
        SignatureError,
        TamperedCode,
        UnknownSigningKey,
    )
    from runtime.graph import Graph, Node


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


def get_run(run_id: str) -> Run:
    """A run by id, from any process connected to the same store."""
    from runtime.client import default_client

    return default_client().get_run(run_id)


def runs(**filters: object) -> list[Run]:
    """Runs newest first; filters: ``workflow``, ``status``, ``trigger``, ``owner``, ``limit``,
    ``offset``."""
    from runtime.client import default_client

    return default_client().runs(**filters)  # type: ignore[arg-type]


def diff(run_a: Run | str, run_b: Run | str) -> RunDiff:
    """How run B differs from run A, node by node (``RunDiff``: ``.changed``, ``.unchanged``,
    ``.only_in_a``, ``.only_in_b``); runs or run ids of the default client."""
    from runtime.client import default_client

    a = default_client().get_run(run_a) if isinstance(run_a, str) else run_a
    b = default_client().get_run(run_b) if isinstance(run_b, str) else run_b
    return b.diff(a)


def workflow(name: str, version: str | None = None) -> Graph:
    """A published workflow (its current version, or ``version``: a hash or unique prefix)
    as a ``Graph`` of its own, studio-built or not: it runs, displays and extends like any
    graph; adding a node and running it publishes a new version."""
    from runtime.client import default_client
    from runtime.export import workflow as load

    return load(default_client(), name, version)


def recover() -> list[Run]:
    """Continue runs whose process stopped; see ``Client.recover``."""
    from runtime.client import default_client

    return default_client().recover()


__all__ = [
    "Client",
    "CodecError",
    "Graph",
    "GraphError",
    "InputError",
    "LegacySignature",
    "MissingSigningKey",
    "Node",
    "NodeContext",
    "NodeInfo",
    "NotFound",
    "OptionError",
    "PayloadError",
    "Picture",
    "PlaitError",
    "Run",
    "RunDiff",
    "RunStateError",
    "SignatureError",
    "TamperedCode",
    "UnknownSigningKey",
    "connect",
    "current",
    "default_client",
    "diff",
    "get_run",
    "nodes",
    "recover",
    "runs",
    "secret",
    "testing",
    "workflow",
]
