"""the language each subscriber reads, and of each rendered variant of an edition

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=False, server_default="en"))
    with op.batch_alter_table("edition_variants") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=False, server_default="en"))
        batch.drop_constraint("uq_edition_variants", type_="unique")
        batch.create_unique_constraint("uq_edition_variants", ["edition_id", "countries", "language"])
    with op.batch_alter_table("subscribers") as batch:
        batch.alter_column("language", server_default=None)
    with op.batch_alter_table("edition_variants") as batch:
        batch.alter_column("language", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("edition_variants") as batch:
        batch.drop_constraint("uq_edition_variants", type_="unique")
        batch.create_unique_constraint("uq_edition_variants", ["edition_id", "countries"])
        batch.drop_column("language")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("language")
