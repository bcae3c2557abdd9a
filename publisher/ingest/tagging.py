"""Which countries a release belongs to: its own `countries` field, else the config's keywords."""

from __future__ import annotations

import re

from publisher.config import Config
from publisher.errors import InputError
from publisher.ingest.entry import Entry


class Tagger:
    def __init__(self, config: Config) -> None:
        self._known = config.country_codes
        self._default = config.tagging.default_countries
        self._patterns = [
            (country.code, _keyword_pattern(country.keywords))
            for country in config.countries
            if country.keywords
        ]

    def countries(self, entry: Entry, source: str) -> tuple[str, ...]:
        """Every matching country (in config order), not only the first."""
        if entry.countries is not None:
            unknown = [code for code in entry.countries if code not in self._known]
            if unknown:
                raise InputError(source, entry.where,
                                 f"unknown country {unknown[0]!r}; the config has "
                                 f"{', '.join(self._known) or 'no countries'}")
            return entry.countries
        text = f"{entry.title}\n{entry.summary}"
        matched = tuple(code for code, pattern in self._patterns if pattern.search(text))
        if matched or self._default:
            return matched or self._default
        raise InputError(source, entry.where, "no country: the release matches no keyword; "
                         "give it countries or set tagging.default_countries")


def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words only: "Mongolia" must not match inside another word.
    alternatives = "|".join(re.escape(keyword) for keyword in keywords)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
