"""Which countries a release belongs to: its own `countries` field, else the config's keywords.

Keywords match by script: Chinese (and other CJK) text has no spaces between words, so a CJK
keyword matches anywhere (`中国`); Mongolian inflects, so a Cyrillic keyword matches at the start
of a word (`Монгол` in `Монголын`); any other keyword matches whole words only (`Mongolia`
is not found inside `Mongolians`). Where matches overlap, the longest wins: `Inner Mongolia` (a
keyword of China) hides the `Mongolia` inside it. A country's `exclude` phrases never count
for it, whatever else they hold; and proper names that merely contain a country's name (the
office's own, in every language of `site.names`, and `tagging.ignore`) count for no country:
"ILO Country Office for China and Mongolia" says nothing of where a release happened.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from publisher.errors import InputError
from publisher.ingest.entry import Entry

if TYPE_CHECKING:
    from publisher.ingest.rules import IngestConfig

_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@dataclass(frozen=True)
class _Rules:
    code: str
    keywords: tuple[tuple[str, str], ...]  # (keyword, lower-cased)
    exclude: tuple[tuple[str, str], ...]

    def spans(self, text: str, lowered: str) -> list[tuple[int, int]]:
        """Where the country's keywords match, outside its exclude phrases. Only the keywords
        found as plain substrings (of the lower-cased text) go into the pattern: a pattern of
        one or two is many times faster than one of every keyword, at every position."""
        pattern = _pattern(_present(self.keywords, lowered))
        if pattern is None:
            return []
        exclude = _pattern(_present(self.exclude, lowered))
        excluded = [m.span() for m in exclude.finditer(text)] if exclude else []
        return [m.span() for m in pattern.finditer(text)
                if not any(start <= m.start() and m.end() <= end for start, end in excluded)]


class Tagger:
    def __init__(self, config: IngestConfig, categories: Mapping[str, str] | None = None) -> None:
        self._known = config.country_codes
        self._default = config.tagging.default_countries
        # A feed's category that names a country, by its code or its name, whatever the case, or
        # as its source's `categories` say.
        self._named = {term.casefold(): country.code for country in config.countries
                       for term in (country.code, country.name)}
        self._named.update({word.casefold(): code for word, code in (categories or {}).items()})
        self._rules = [_Rules(country.code, _lowered(country.keywords), _lowered(country.exclude))
                       for country in config.countries if country.keywords]
        names = (config.site.name, *config.site.names.values(), *config.tagging.ignore)
        self._names = _Rules("", _lowered(tuple(dict.fromkeys(names))), ())  # (matched as keywords, of no country)

    def countries(self, entry: Entry, source: str) -> tuple[str, ...]:
        """The entry's own countries; else those its categories name (a feed's); else every country
        the tagging rules match (in config order), not only the first."""
        if entry.countries is not None:
            unknown = [code for code in entry.countries if code not in self._known]
            if unknown:
                raise InputError(source, entry.where,
                                 f"unknown country {unknown[0]!r}; the config has "
                                 f"{', '.join(self._known) or 'no countries'}")
            return entry.countries
        named = self.named(entry.categories)
        if named:
            return named
        matched = self.matches(f"{entry.title}\n{entry.summary}")
        if matched or self._default:
            return matched or self._default
        raise InputError(source, entry.where, "no country: the release matches no keyword; "
                         "give it countries or set tagging.default_countries")

    def kicker(self, categories: tuple[str, ...]) -> str | None:
        """A feed entry's category as its kicker line: the first that names no country (those
        become its countries)."""
        return next((term for term in categories if term.casefold() not in self._named), None)

    def named(self, categories: tuple[str, ...]) -> tuple[str, ...]:
        """The countries a feed entry's categories name (in config order)."""
        codes = {self._named[term.casefold()] for term in categories if term.casefold() in self._named}
        return tuple(code for code in self._known if code in codes)

    def matches(self, text: str) -> tuple[str, ...]:
        lowered = text.lower()
        found = [(start, end, rules.code) for rules in (self._names, *self._rules)
                 for start, end in rules.spans(text, lowered)]
        kept: list[tuple[int, int, str]] = []
        for start, end, code in sorted(found, key=lambda match: match[0] - match[1]):  # longest first
            if not any(start < other_end and other_start < end for other_start, other_end, _ in kept):
                kept.append((start, end, code))
        codes = {code for _, _, code in kept}
        return tuple(rules.code for rules in self._rules if rules.code in codes)


def _lowered(keywords: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((keyword, keyword.lower()) for keyword in keywords)


def _present(keywords: tuple[tuple[str, str], ...], lowered: str) -> tuple[str, ...]:
    return tuple(keyword for keyword, low in keywords if low in lowered)


@functools.lru_cache(maxsize=4096)
def _pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    # Longest first: of two keywords at one place, the alternation takes the first that fits.
    alternatives = "|".join(_alternative(keyword) for keyword in sorted(keywords, key=len, reverse=True))
    return re.compile(alternatives, re.IGNORECASE)


def _alternative(keyword: str) -> str:
    escaped = re.escape(keyword)
    if _CJK.search(keyword):
        return f"(?:{escaped})"
    if _CYRILLIC.search(keyword):
        return rf"(?<!\w)(?:{escaped})"
    return rf"(?<!\w)(?:{escaped})(?!\w)"
