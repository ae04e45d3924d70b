"""Scheduled tasks: users' reminders and admin schedules' runs, claimed under a lease.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_tasks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("job", sa.String(64), nullable=False, server_default=""),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("session_key", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("job", "due_at", "session_key", name="uq_scheduled_tasks_run"),
    )
    op.create_index("ix_scheduled_tasks_due", "scheduled_tasks", ["status", "due_at"])
    op.create_index(
        "ix_scheduled_tasks_user", "scheduled_tasks", ["session_key", "user_id", "status"]
    )
    op.create_table(
        "schedule_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("next_due", sa.Float, nullable=False),
        sa.Column("paused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedule_state")
    op.drop_table("scheduled_tasks")
