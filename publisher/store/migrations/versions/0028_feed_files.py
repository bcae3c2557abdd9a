"""Built feed files in the store (feed_files), so that every web node answers the same feeds

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_files",
        sa.Column("path", sa.String(300), primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("gzipped", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("changed", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_files")
