"""rejected message ids: a message kept aside is found by its Message-ID, and kept once

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rejected_messages_message_id", "rejected_messages", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_rejected_messages_message_id", table_name="rejected_messages")
