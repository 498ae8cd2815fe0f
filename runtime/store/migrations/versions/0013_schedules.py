"""schedules: cron triggers and their fires (unique per fire time); delayed runs' start_at

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sa.types.TypeEngine:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("version", _text(64), nullable=True),
        sa.Column("cron", _text(200), nullable=False),
        sa.Column("tz", _text(64), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("overlap", _text(16), nullable=False),
        sa.Column("catchup", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("key", _text(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", _text(200), nullable=True),
        sa.Column("last_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflow.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "key"),
    )
    op.create_index("ix_schedule_workflow_id", "schedule", ["workflow_id"])
    op.create_table(
        "schedule_fire",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", _text(16), nullable=False),
        sa.Column("run_id", _text(32), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedule.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "fire_at"),
    )
    op.create_index("ix_schedule_fire_schedule_id", "schedule_fire", ["schedule_id"])


def downgrade() -> None:
    op.drop_index("ix_schedule_fire_schedule_id", table_name="schedule_fire")
    op.drop_table("schedule_fire")
    op.drop_index("ix_schedule_workflow_id", table_name="schedule")
    op.drop_table("schedule")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("start_at")
