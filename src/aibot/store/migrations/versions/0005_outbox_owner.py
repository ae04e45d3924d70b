"""Which replica is delivering an outbox row, so that several replicas never send it twice.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("owner", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "owner")
