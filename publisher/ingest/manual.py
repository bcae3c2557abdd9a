"""Releases an operator adds, edits or withdraws (the console, the API): checked as imported
ones are, stored with the source MANUAL, so later imports leave them as the operator left them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.errors import InputError, InvalidValue, NotFound
from publisher.ingest.checks import entry_problem
from publisher.ingest.entry import Entry
from publisher.ingest.prepare import release_hash
from publisher.ingest.rules import IngestConfig
from publisher.ingest.save import MANUAL, save_entries, tag, update_release
from publisher.ingest.tagging import Tagger
from publisher.store.models import Release


class UnknownRelease(NotFound):
    """No release has that number."""


def operator_entry(config: IngestConfig, *, title: str, published: datetime, summary: str, url: str | None,
                   countries: Sequence[str], image_url: str | None, image_credit: str | None,
                   where: str) -> Entry:
    """An entry from what an operator typed: spaces tidied, empty fields None, a time without
    a zone in the office's; InvalidValue for a country the config lacks."""
    codes = tuple(dict.fromkeys(countries))
    unknown = [code for code in codes if code not in config.country_codes]
    if unknown:
        raise InvalidValue(f"countries: unknown country {unknown[0]!r}")
    return Entry(title=" ".join(title.split()),
                 published=published if published.tzinfo else published.replace(tzinfo=config.site.zone),
                 summary=summary.strip(), url=(url or "").strip() or None, countries=codes,
                 image_url=(image_url or "").strip() or None,
                 image_credit=" ".join((image_credit or "").split()) or None, where=where)


def release_values(release: Release) -> dict[str, Any]:
    """What an operator sees and changes of a release (forms, the API, the audit log)."""
    return {"title": release.title, "published": release.published.isoformat(), "summary": release.summary,
            "url": release.url, "countries": sorted(release.country_codes), "image_url": release.image_url,
            "image_credit": release.image_credit, "withdrawn": release.withdrawn.isoformat()
            if release.withdrawn else None}


def existing_release(session: Session, release_id: int) -> Release:
    release = session.get(Release, release_id)
    if release is None:
        raise UnknownRelease(f"no release has the number {release_id}")
    return release


def add_release(session: Session, config: IngestConfig, entry: Entry, now: datetime) -> Release:
    _checked(config, entry)
    taken = session.scalars(select(Release.slug).where(Release.source_key == entry.source_key)).first()
    if taken is not None:
        raise InvalidValue(f"release {taken!r} has this URL already (or, without one, this date and title)")
    save_entries(session, [entry], config=config, source=MANUAL, now=now)
    return session.scalars(select(Release).where(Release.source_key == entry.source_key)).one()


def edit_release(session: Session, config: IngestConfig, release: Release, entry: Entry, now: datetime) -> None:
    """Change every field an operator sees; the slug, permanent id and source key stay (readers
    and later imports know the release by them)."""
    if release.withdrawn is not None:
        raise InvalidValue("a withdrawn release cannot be changed")
    countries = _checked(config, entry)
    update_release(release, entry, countries, release_hash(entry, countries), config, MANUAL, now)


def withdraw_release(release: Release, now: datetime) -> None:
    """It loses its countries (so no feed or digest has it from now; they are kept aside for a
    restore) and its page says so."""
    if release.withdrawn is None:
        release.withdrawn, release.withdrawn_countries = now, " ".join(release.country_codes)
        release.updated = max(now, release.updated)
        release.links = []


def restore_release(config: IngestConfig, release: Release, now: datetime) -> None:
    """A withdrawn release back, with the countries it had (those the config still has): in the
    feeds again, and news to a digest that has not carried it."""
    if release.withdrawn is None:
        return
    codes = [code for code in (release.withdrawn_countries or "").split() if code in config.country_codes]
    if not codes:
        raise InvalidValue("countries: none of its countries is in the config any more")
    release.withdrawn, release.withdrawn_countries = None, None
    release.updated = max(now, release.updated)
    tag(release, tuple(codes))


def _checked(config: IngestConfig, entry: Entry) -> tuple[str, ...]:
    if not entry.title.strip():
        raise InvalidValue("title: a release needs a title")
    if not entry.countries:
        raise InvalidValue("countries: choose at least one country")
    problem = entry_problem(entry)
    if problem is not None:
        raise InvalidValue(problem)
    try:
        return Tagger(config).countries(entry, MANUAL)
    except InputError as exc:
        raise InvalidValue(f"countries: {exc.problem}") from None
