"""subscribers, editions and deliveries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_since", UTCDateTime(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "subscriber_countries",
        sa.Column("subscriber_id", sa.Integer,
                  sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("country_code", sa.String(2),
                  sa.ForeignKey("countries.code", ondelete="RESTRICT"), primary_key=True),
    )
    op.create_index("ix_subscriber_countries_country", "subscriber_countries",
                    ["country_code", "subscriber_id"])
    op.create_table(
        "editions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("period", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("completed", UTCDateTime(), nullable=True),
        sa.Column("watermark", sa.Integer, nullable=False),
        sa.Column("release_count", sa.Integer, nullable=False),
        sa.Column("more_count", sa.Integer, nullable=False),
        sa.Column("first_published", UTCDateTime(), nullable=False),
        sa.Column("last_published", UTCDateTime(), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.UniqueConstraint("digest", "number", name="uq_editions_number"),
        sa.UniqueConstraint("digest", "period", name="uq_editions_period"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("edition_id", sa.Integer, sa.ForeignKey("editions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("subscriber_id", sa.Integer,
                  sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("reply", sa.Text, nullable=True),
        sa.Column("sent", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_recipient"),
    )
    op.create_index("ix_deliveries_queue", "deliveries", ["edition_id", "status", "next_attempt"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("editions")
    op.drop_table("subscriber_countries")
    op.drop_table("subscribers")
