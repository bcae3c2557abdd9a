"""the shared sending pace per mail server, and the processes seen at work

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rates",
        sa.Column("server", sa.String(300), primary_key=True),
        sa.Column("next_slot", sa.Float, nullable=False),
    )
    op.create_table(
        "processes",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started", UTCDateTime(), nullable=False),
        sa.Column("seen", UTCDateTime(), nullable=False),
        sa.Column("handled", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("processes")
    op.drop_table("send_rates")
