"""sources: the sources of releases in effect, seeded from config.toml and changed from the
console or the API without a restart

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("changed", UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(320), nullable=False),
        sa.Column("retired", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sources")
