"""Encryption at rest: the data keys in use, resumable store jobs, room for a sealed TOTP key.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("check_value", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "store_jobs",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=False),
        sa.Column("progress", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    with op.batch_alter_table("admin_users") as table:
        table.alter_column(
            "totp_secret", type_=sa.String(255), existing_type=sa.String(64), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("admin_users") as table:
        table.alter_column(
            "totp_secret", type_=sa.String(64), existing_type=sa.String(255), existing_nullable=True
        )
    op.drop_table("store_jobs")
    op.drop_table("data_keys")
