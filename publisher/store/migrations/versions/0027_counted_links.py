"""Counted links: edition_links (where each /r/ address of a variant leads, and its folded
counts), link_clicks (clicks while an edition is counted), editions.click_key and .counted,
edition_variants' folded counts

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_FOLDED = ("clicks", "readers", "automatic")


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("click_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("counted", UTCDateTime(), nullable=True))
    with op.batch_alter_table("edition_variants") as batch:
        for name in _FOLDED:
            batch.add_column(sa.Column(name, sa.Integer, nullable=True))
    op.create_table(
        "edition_links",
        sa.Column("variant_id", sa.Integer, sa.ForeignKey("edition_variants.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id", ondelete="SET NULL"), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("clicks", sa.Integer, nullable=True),
        sa.Column("readers", sa.Integer, nullable=True),
        sa.Column("automatic", sa.Integer, nullable=True),
    )
    op.create_table(
        "link_clicks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("edition_id", sa.Integer, sa.ForeignKey("editions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("variant_id", sa.Integer, nullable=False),
        sa.Column("link", sa.Integer, nullable=False),
        sa.Column("reader", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("automatic", sa.String(20), nullable=False),
    )
    op.create_index("ix_link_clicks_edition", "link_clicks", ["edition_id", "variant_id", "link"])


def downgrade() -> None:
    op.drop_index("ix_link_clicks_edition", "link_clicks")
    op.drop_table("link_clicks")
    op.drop_table("edition_links")
    with op.batch_alter_table("edition_variants") as batch:
        for name in _FOLDED:
            batch.drop_column(name)
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("counted")
        batch.drop_column("click_key")
