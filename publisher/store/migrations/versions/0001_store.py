"""countries, releases and their country tags

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "countries",
        sa.Column("code", sa.String(2), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_key", sa.String(600), nullable=False, unique=True),
        sa.Column("permanent_id", sa.String(300), nullable=False, unique=True),
        sa.Column("slug", sa.String(120), nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("image_url", sa.String(2000), nullable=True),
        sa.Column("image_credit", sa.Text, nullable=True),
        sa.Column("published", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_releases_newest", "releases", ["published", "id"])
    op.create_table(
        "release_countries",
        sa.Column(
            "release_id",
            sa.Integer,
            sa.ForeignKey("releases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "country_code",
            sa.String(2),
            sa.ForeignKey("countries.code", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column("published", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_release_countries_newest",
        "release_countries",
        ["country_code", "published", "release_id", "updated"],
    )


def downgrade() -> None:
    op.drop_table("release_countries")
    op.drop_table("releases")
    op.drop_table("countries")
