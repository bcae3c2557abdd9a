"""editions per reader: a variant per choice of countries, the releases each edition carries,
the start of its period, a random part for Message-IDs, and digest starts set by an operator

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edition_variants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("edition_id", sa.Integer(), sa.ForeignKey("editions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("countries", sa.String(200), nullable=False),
        sa.Column("release_count", sa.Integer(), nullable=False),
        sa.Column("more_count", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.UniqueConstraint("edition_id", "countries", name="uq_edition_variants"),
    )
    op.create_table(
        "edition_releases",
        sa.Column("edition_id", sa.Integer(), sa.ForeignKey("editions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("releases.id", ondelete="CASCADE"),
                  primary_key=True),
    )
    op.create_index("ix_edition_releases_release", "edition_releases", ["release_id"])
    op.create_table(
        "digest_starts",
        sa.Column("digest", sa.String(100), primary_key=True),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
    )
    # An edition made before this version went to everyone alike: one variant of every country.
    op.execute("INSERT INTO edition_variants (edition_id, countries, release_count, more_count, "
               "subject, html, text) SELECT id, '*', release_count, more_count, subject, html, text "
               "FROM editions")
    # What each earlier edition carried: the releases stored between its watermark and the
    # one before it (its page shows those of the digest's countries).
    op.execute("INSERT INTO edition_releases (edition_id, release_id) SELECT e.id, r.id "
               "FROM editions e JOIN releases r ON r.id <= e.watermark AND r.id > COALESCE("
               "(SELECT MAX(p.watermark) FROM editions p WHERE p.digest = e.digest "
               "AND p.number < e.number), 0)")
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("since", UTCDateTime(), nullable=True))
        # Their Message-IDs ended in the edition id: the same ids when one is resumed.
        batch.add_column(sa.Column("message_key", sa.String(32), nullable=True))
        batch.alter_column("first_published", existing_type=UTCDateTime(), nullable=True)
        batch.alter_column("last_published", existing_type=UTCDateTime(), nullable=True)
        batch.drop_column("html")
        batch.drop_column("text")
        batch.drop_column("watermark")  # edition_releases says what each carried
    op.execute("UPDATE editions SET since = first_published, message_key = CAST(id AS VARCHAR(32))")
    with op.batch_alter_table("editions") as batch:
        batch.alter_column("since", existing_type=UTCDateTime(), nullable=False)
        batch.alter_column("message_key", existing_type=sa.String(32), nullable=False)
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("variant_id", sa.Integer(), nullable=True))
    op.execute("UPDATE deliveries SET variant_id = (SELECT v.id FROM edition_variants v "
               "WHERE v.edition_id = deliveries.edition_id)")
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("variant_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key("fk_deliveries_variant", "edition_variants", ["variant_id"], ["id"],
                                 ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_variant", type_="foreignkey")
        batch.drop_column("variant_id")
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("html", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("watermark", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_column("since")
        batch.drop_column("message_key")
    op.drop_table("digest_starts")
    op.drop_table("edition_releases")
    op.drop_table("edition_variants")
