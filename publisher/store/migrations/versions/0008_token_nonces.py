"""a random nonce per subscriber that every signed link is bound to (revocable links)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_RANDOM = {"sqlite": "lower(hex(randomblob(16)))",
           "postgresql": "md5(random()::text || clock_timestamp()::text || id::text)"}


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("token_nonce", sa.String(32), nullable=False, server_default=""))
    # Every link mailed before this version was signed without a nonce: they stop working, as
    # the links of a new key would. Each subscriber gets their own random nonce.
    random = _RANDOM[op.get_bind().dialect.name]
    op.execute(f"UPDATE subscribers SET token_nonce = {random}")
    with op.batch_alter_table("subscribers") as batch:
        batch.alter_column("token_nonce", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("token_nonce")
