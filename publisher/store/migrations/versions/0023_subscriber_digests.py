"""subscriber digests: the digests a reader chose (none: every digest of their countries, as
before, so that every reader keeps exactly what they received)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_digests",
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("digest", sa.String(100), primary_key=True),
    )
    op.create_index("ix_subscriber_digests_digest", "subscriber_digests", ["digest", "subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_subscriber_digests_digest", "subscriber_digests")
    op.drop_table("subscriber_digests")
