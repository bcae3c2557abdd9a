"""operators: accounts, console sessions, API tokens, the audit log; a release can be withdrawn;
a schedule's last successful run

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from publisher.store.models import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("withdrawn", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("withdrawn_countries", sa.String(200), nullable=True))
    with op.batch_alter_table("schedule_runs") as batch:
        batch.add_column(sa.Column("succeeded", UTCDateTime(), nullable=True))
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("seen", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("used", UTCDateTime(), nullable=True),
        sa.Column("revoked", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", "audit_log")
    for table in ("audit_log", "api_tokens", "operator_sessions", "operators"):
        op.drop_table(table)
    with op.batch_alter_table("schedule_runs") as batch:
        batch.drop_column("succeeded")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("withdrawn_countries")
        batch.drop_column("withdrawn")
