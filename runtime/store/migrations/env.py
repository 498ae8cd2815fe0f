"""Alembic environment: runs against the connection handed over by ``runtime.store.db``."""

from typing import Any, Literal

from alembic import context
from sqlmodel import SQLModel

import runtime.store.tables  # registers the tables on the metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `plait db upgrade`")


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our UTC wrapper as the plain column type it stores (migrations must not import
    model code that may change later)."""
    if kind == "type" and isinstance(obj, runtime.store.tables.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
