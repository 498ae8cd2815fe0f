"""map elements: element attempts of a map node as node_run rows with their index

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-02 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("element", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_node_run_element",
            ["run_id", "element"],
            postgresql_where=sa.text("element IS NOT NULL"),
            sqlite_where=sa.text("element IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.drop_index("ix_node_run_element")
        batch_op.drop_column("element")
