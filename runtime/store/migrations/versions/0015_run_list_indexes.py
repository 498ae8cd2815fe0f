"""indexes for the runs list's filters, each with its order (created_at)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_status")
        batch_op.create_index("ix_run_status_created", ["status", "created_at"])
        batch_op.create_index("ix_run_trigger_created", ["trigger", "created_at"])
        batch_op.create_index("ix_run_owner_created", ["owner", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_owner_created")
        batch_op.drop_index("ix_run_trigger_created")
        batch_op.drop_index("ix_run_status_created")
        batch_op.create_index("ix_run_status", ["status"])
