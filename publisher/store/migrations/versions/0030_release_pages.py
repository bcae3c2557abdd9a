"""What fetching each release's own page last gave (release_pages), for sources with fetch_pages

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_pages",
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("etag", sa.String(200), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("fetched", UTCDateTime(), nullable=False),
        sa.Column("problem", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("release_pages")
