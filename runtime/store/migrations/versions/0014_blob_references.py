"""indexes on the blob references of attempts and documents, for retention

Retention deletes a blob only when no row references it; these partial indexes hold only the
rows that have a blob (large values), so asking costs an index probe, not a table scan.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table, column in (("node_run", "output_blob"), ("document", "value_blob")):
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_{table}_{column}",
            table,
            [column],
            postgresql_where=where,
            sqlite_where=where,
        )


def downgrade() -> None:
    op.drop_index("ix_document_value_blob", table_name="document")
    op.drop_index("ix_node_run_output_blob", table_name="node_run")
