"""Object-storage archive: the stub of each archived object (where its turns went).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_objects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("object_key", sa.String(512), nullable=False),
        sa.Column("session_key", sa.String(255), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("first_turn_id", sa.Integer, nullable=False),
        sa.Column("last_turn_id", sa.Integer, nullable=False),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("first_at", sa.Float, nullable=False),
        sa.Column("last_at", sa.Float, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("key_ids", sa.String(255), nullable=False),
        sa.Column("archived_at", sa.Float, nullable=False),
        sa.Column("restored_at", sa.Float, nullable=True),
        sa.Column("manifest", sa.String(512), nullable=True),
        sa.UniqueConstraint("object_key", name="uq_archive_objects_key"),
    )
    op.create_index("ix_archive_objects_session", "archive_objects", ["session_key", "day"])


def downgrade() -> None:
    op.drop_table("archive_objects")
