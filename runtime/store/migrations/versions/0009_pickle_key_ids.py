"""pickle_key: ids of the pickle keys that signed stored values

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pickle_key",
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    # values pickled before ids were kept: their key is unknown, but a key is needed
    op.execute(
        "INSERT INTO pickle_key (key_id, first_used_at) "
        "SELECT 'unrecorded', CURRENT_TIMESTAMP WHERE EXISTS "
        "(SELECT 1 FROM node_run WHERE output_codec = 'pickle') "
        "OR EXISTS (SELECT 1 FROM document WHERE value_codec = 'pickle')"
    )


def downgrade() -> None:
    op.drop_table("pickle_key")
