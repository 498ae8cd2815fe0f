"""Plait: build a workflow as a Python graph, run it durably, watch it live.

import runtime as rt

g = rt.Graph("hello")

@g.node
def greeting(name: str = "world") -> str:
    return f"hello {name}"

run = g.run(name="Plait").wait()
run.outputs  # {'greeting': 'hello Plait'}
"""

from runtime.client import Client, NodeInfo, Run, connect, default_client
from runtime.codecs import Picture
from runtime.context import NodeContext, current
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


def get_run(run_id: str) -> Run:
    """A run by id, from any process connected to the same store."""
    return default_client().get_run(run_id)


def runs(**filters: object) -> list[Run]:
    """Runs newest first; filters: ``workflow``, ``status``, ``trigger``, ``limit``, ``offset``."""
    return default_client().runs(**filters)  # type: ignore[arg-type]


def recover() -> list[Run]:
    """Continue runs whose process stopped; see ``Client.recover``."""
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
    "RunStateError",
    "SignatureError",
    "TamperedCode",
    "UnknownSigningKey",
    "connect",
    "current",
    "default_client",
    "get_run",
    "recover",
    "runs",
]
