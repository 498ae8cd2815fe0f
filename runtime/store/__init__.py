"""Persistence: tables, migrations, value storage and the repository (``Store``)."""

from runtime.store.repo import (
    INTERRUPTED,
    WORKER_LOST,
    Acquired,
    GiveUp,
    Lease,
    NewEvent,
    NodeFinish,
    NodeStart,
    Renewal,
    StaleWrite,
    Store,
    Takeover,
    cut_off,
)

__all__ = [
    "INTERRUPTED",
    "WORKER_LOST",
    "Acquired",
    "GiveUp",
    "Lease",
    "NewEvent",
    "NodeFinish",
    "NodeStart",
    "Renewal",
    "StaleWrite",
    "Store",
    "Takeover",
    "cut_off",
]
