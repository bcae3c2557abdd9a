"""The HTML of releases stored before it was cleaned on import (safehtml.py), cleaned now

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from publisher.safehtml import clean_html

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_releases = sa.table("releases", sa.column("id", sa.Integer), sa.column("url", sa.Text),
                     sa.column("body_html", sa.Text))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_releases.c.id, _releases.c.url, _releases.c.body_html)
                        .where(_releases.c.body_html.is_not(None))).all()
    for release_id, url, body in rows:
        cleaned = clean_html(body, url) or None
        if cleaned != body:
            bind.execute(_releases.update().where(_releases.c.id == release_id).values(body_html=cleaned))


def downgrade() -> None:
    pass  # what was removed is not kept
