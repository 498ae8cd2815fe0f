"""wake_at: when a sleeping run (or a wait with a timeout) is queued again

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_run_status_wake", ["status", "wake_at"])
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.drop_column("wake_at")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_status_wake")
        batch_op.drop_column("wake_at")
