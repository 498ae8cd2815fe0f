"""Persistence: tables, migrations, value storage and the repository (``Store``)."""

from runtime.store.repo import (
    INTERRUPTED,
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
)

__all__ = [
    "INTERRUPTED",
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
]
