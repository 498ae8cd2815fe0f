"""replay: a run linked to the run it replays, attempts reused from it, per-node digests

Revision ID: 0021
Revises: 0016
Create Date: 2026-12-02 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("replay_of", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.create_index("ix_run_replay_of", ["replay_of"])
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reused_from", sa.Integer(), nullable=True))
    with op.batch_alter_table("workflow_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_digests", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_version", schema=None) as batch_op:
        batch_op.drop_column("node_digests")
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.drop_column("reused_from")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_replay_of")
        batch_op.drop_column("replay_of")
