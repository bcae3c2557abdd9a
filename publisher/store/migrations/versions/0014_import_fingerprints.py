"""import fingerprints: a file imported again unchanged is recognised without reading it; the
releases of one source found by an index

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_fingerprints",
        sa.Column("location", sa.String(1000), primary_key=True),
        sa.Column("file_digest", sa.String(64), nullable=False),
        sa.Column("rules_digest", sa.String(64), nullable=False),
        sa.Column("store_digest", sa.String(64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("imported", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_releases_source", "releases", ["source", "source_key"])


def downgrade() -> None:
    op.drop_index("ix_releases_source", table_name="releases")
    op.drop_table("import_fingerprints")
