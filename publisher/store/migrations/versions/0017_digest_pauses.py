"""digest pauses: a digest an operator paused makes no edition on its schedule

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_pauses",
        sa.Column("digest", sa.String(100), primary_key=True),
        sa.Column("paused", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(320), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_pauses")
