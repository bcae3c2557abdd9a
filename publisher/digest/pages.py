"""A sent edition as its web page shows it: every release it carried, beyond what fitted in
the mail, of the reader's own countries when the link from their mail says which."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.config import Digest
from publisher.digest.render import Content, EditionConfig, render_page
from publisher.i18n import Texts
from publisher.store.models import Edition, EditionRelease, Release, ReleaseCountry


def edition_page(session: Session, config: EditionConfig, digest: Digest, edition: Edition,
                 countries: Sequence[str], texts: Texts) -> str:
    """The page's HTML, the recipient marks still in it. Codes that are not the digest's are
    ignored: the page then shows every country of the digest."""
    chosen = tuple(sorted({code.upper() for code in countries} & set(digest.countries)))
    chosen = chosen or tuple(digest.countries)
    carried = select(EditionRelease.release_id).where(
        EditionRelease.edition_id == edition.id,
        EditionRelease.release_id.in_(select(ReleaseCountry.release_id).where(
            ReleaseCountry.country_code.in_(chosen))))
    releases = list(session.scalars(select(Release).where(Release.id.in_(carried))
                                    .order_by(Release.published.desc(), Release.id.desc())))
    return render_page(config, Content(digest, edition.number, chosen, releases, 0, texts))
