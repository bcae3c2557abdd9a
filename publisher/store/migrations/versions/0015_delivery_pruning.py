"""deliveries pruned: an edition keeps when, and its counts by status; room on each deliveries
page (PostgreSQL fillfactor) for claims to update in place

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import DELIVERIES_FILLFACTOR, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("pruned", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("delivery_counts", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # new pages get the room; old ones as they are
        op.execute(f"ALTER TABLE deliveries SET (fillfactor = {DELIVERIES_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("delivery_counts")
        batch.drop_column("pruned")
