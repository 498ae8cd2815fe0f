"""webhook endpoints, their secrets and deliveries; workflow.max_concurrent_runs, run.priority

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sa.types.TypeEngine:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table("workflow", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_concurrent_runs", sa.Integer(), nullable=True))
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", _text(32), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("version", _text(64), nullable=True),
        sa.Column("mode", _text(16), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("max_body_bytes", sa.Integer(), nullable=True),
        sa.Column("rate_limit", _text(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", _text(200), nullable=True),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflow.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_webhook_endpoint_workflow_id"), "webhook_endpoint", ["workflow_id"], unique=False
    )
    op.create_table(
        "webhook_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", _text(32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoint.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_webhook_secret_endpoint_id"), "webhook_secret", ["endpoint_id"], unique=False
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", _text(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("webhook_id", _text(200), nullable=True),
        sa.Column("message_id", _text(200), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("verdict", _text(16), nullable=False),
        sa.Column("run_id", _text(32), nullable=True),
        sa.Column("error", _text(1000), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoint.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_id", "message_id"),
    )
    op.create_index(
        "ix_webhook_delivery_endpoint_at",
        "webhook_delivery",
        ["endpoint_id", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_delivery_endpoint_at", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_webhook_secret_endpoint_id"), table_name="webhook_secret")
    op.drop_table("webhook_secret")
    op.drop_index(op.f("ix_webhook_endpoint_workflow_id"), table_name="webhook_endpoint")
    op.drop_table("webhook_endpoint")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("priority")
    with op.batch_alter_table("workflow", schema=None) as batch_op:
        batch_op.drop_column("max_concurrent_runs")
