"""node sources: each version keeps the source text of its nodes' code, to show and diff

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_sources", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_version", schema=None) as batch_op:
        batch_op.drop_column("node_sources")
