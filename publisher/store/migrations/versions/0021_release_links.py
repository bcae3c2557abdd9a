"""release links: a release without a URL of its own stores none (its page here is built from
the current site.base_url, so moving the site moves every link)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.alter_column("url", existing_type=sa.String(2000), nullable=True)
    releases = sa.table("releases", sa.column("id", sa.Integer), sa.column("url", sa.String),
                        sa.column("slug", sa.String))
    connection = op.get_bind()
    # The page here was stored as {base_url}/releases/{slug}: whatever the host, it is ours.
    ours = [row.id for row in connection.execute(sa.select(releases.c.id, releases.c.url, releases.c.slug))
            if row.url and row.url.endswith(f"/releases/{row.slug}")]
    for start in range(0, len(ours), 500):
        connection.execute(releases.update().where(releases.c.id.in_(ours[start:start + 500])).values(url=None))


def downgrade() -> None:
    raise NotImplementedError("the stored host cannot be known again: restore a backup")
