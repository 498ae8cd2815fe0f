"""Process isolation: node attempts in child processes that a timeout or a cancel kills, whose
crash kills only themselves, and that hold no Plait keys or database credentials.

    pool = ProcessPool(spares=1)
    outcome = await pool.run(Job.of(version, fn, kwargs, context=...), on_document)

The engine decides what runs isolated; this package only runs it.
"""

from runtime.isolation.job import (
    PICKLE_UNSIGNED,
    AttemptTimeout,
    ChildDied,
    Job,
    Outcome,
    PoolClosed,
    ProtocolError,
    Stored,
)
from runtime.isolation.pool import DocumentSink, PoolState, ProcessPool

__all__ = [
    "PICKLE_UNSIGNED",
    "AttemptTimeout",
    "ChildDied",
    "DocumentSink",
    "Job",
    "Outcome",
    "PoolClosed",
    "PoolState",
    "ProcessPool",
    "ProtocolError",
    "Stored",
]
