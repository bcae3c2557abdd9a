"""bounces and complaints: events kept with their diagnostic, messages kept aside, and each
subscriber's count of soft bounces in a row

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("soft_bounces", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "bounce_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("message_id", sa.String(500), nullable=True, unique=True),
        sa.Column("diagnostic", sa.Text(), nullable=False),
    )
    op.create_table(
        "rejected_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("message_id", sa.String(500), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rejected_messages")
    op.drop_table("bounce_events")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("soft_bounces")
