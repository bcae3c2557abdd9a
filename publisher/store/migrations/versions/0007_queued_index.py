"""an index of the queued deliveries in id order, for claims on large editions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    queued = sa.text("status = 'queued'")
    op.create_index("ix_deliveries_queued", "deliveries", ["edition_id", "id"],
                    postgresql_where=queued, sqlite_where=queued)


def downgrade() -> None:
    op.drop_index("ix_deliveries_queued", table_name="deliveries")
