"""releases.search_text: title and summary case-folded, what the news page's search looks in
(SQLite's lower() folds ASCII only; Python folds every script)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    releases = sa.table("releases", sa.column("id", sa.Integer), sa.column("title", sa.Text),
                        sa.column("summary", sa.Text), sa.column("search_text", sa.Text))
    connection = op.get_bind()
    last = 0
    while rows := connection.execute(sa.select(releases.c.id, releases.c.title, releases.c.summary)
                                     .where(releases.c.id > last).order_by(releases.c.id).limit(_BATCH)).all():
        connection.execute(releases.update().where(releases.c.id == sa.bindparam("row_id"))
                           .values(search_text=sa.bindparam("text")),
                           [{"row_id": row.id, "text": f"{row.title}\n{row.summary or ''}".casefold()} for row in rows])
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("search_text")
