"""Persistence: tables, migrations, value storage and the repository (``Store``)."""

from runtime.store.repo import NewEvent, NodeFinish, NodeStart, StaleWrite, Store

__all__ = ["NewEvent", "NodeFinish", "NodeStart", "StaleWrite", "Store"]
