"""signing key ids: workflow_version.key_id names the key that signed a version's code

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # versions stored before this migration keep NULL: their code is HMAC-signed, which no
    # key id describes; `plait signing rotate` re-signs them and fills the column in
    with op.batch_alter_table("workflow_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("workflow_version", schema=None) as batch_op:
        batch_op.drop_column("key_id")
