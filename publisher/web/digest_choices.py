"""The digests a reader may choose on the subscription and preferences forms: each shown in
the reader's language (its heading there, else its countries) with the day of its next
edition, and a reader's choice checked against their countries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, Digest
from publisher.i18n import country_names
from publisher.run.schedules import Schedule
from publisher.store.effect import in_effect
from publisher.web.pages import Page


@dataclass(frozen=True)
class Offer:
    name: str
    label: str  # its heading in the reader's language, else its countries
    countries: str  # named in the reader's language
    next_day: str  # the day of its next edition, as the reader writes dates


class DigestChoices:
    def __init__(self, config: Config, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.config, self.sessions, self.clock = config, sessions, clock

    def digests(self) -> tuple[Digest, ...]:
        with self.sessions() as session:
            return in_effect(session, self.config).digests

    def offers(self, page: Page) -> list[Offer]:
        """Each digest in effect, when there is a choice to make (two or more)."""
        digests = self.digests()
        return [self._offer(page, digest) for digest in digests] if len(digests) > 1 else []

    def _offer(self, page: Page, digest: Digest) -> Offer:
        language = page.texts.language
        countries = country_names(self.config.countries, digest.countries, page.texts)
        label = digest.titles.get(language) or (digest.title if language == "en" else "") or countries
        fires = Schedule("", "digest", digest.name, digest.cron, ZoneInfo(digest.timezone)).next_fire_times(
            self.clock(), 1)
        return Offer(digest.name, label, countries, page.texts.day(fires[0].date()) if fires else "")

    def chosen(self, names: Sequence[str], countries: Sequence[str]) -> tuple[list[str], bool]:
        """What to store of a reader's choice (nothing when they chose all or none: every
        digest of their countries), and whether each digest they singled out has a country of
        theirs (left as it is, the form chooses all, whichever countries are ticked)."""
        digests = self.digests()
        picked = [digest for digest in digests if digest.name in names]
        if len(picked) in (0, len(digests)):
            return [], True
        return [digest.name for digest in picked], all(set(d.countries) & set(countries) for d in picked)
