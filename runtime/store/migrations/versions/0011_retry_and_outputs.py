"""node_run.retry_at, run.retry_floor, run.targets: retrying nodes, retry from the failure,
and runs of chosen outputs

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_floor", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("targets", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("targets")
        batch_op.drop_column("retry_floor")
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.drop_column("retry_at")
