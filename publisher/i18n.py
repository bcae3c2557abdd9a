"""Texts in the languages readers get (publisher/languages.py): English, Chinese (Simplified), Mongolian.

Texts are marked `_("...")` (and `ngettext`) in templates and code and kept in gettext catalogs,
`publisher/locale/LANG/LC_MESSAGES/messages.po` (made with Babel: see README, "Translations").
The catalogs are read as they are, once per process: no compiled file to keep in step.
Dates and numbers are formatted per locale by Babel (CLDR).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from gettext import GNUTranslations, NullTranslations
from importlib import resources
from typing import TYPE_CHECKING

from publisher.config import country_in
from publisher.dates import event_days, format_day_month_year, short_date_range
from publisher.languages import LANGUAGES, supported

if TYPE_CHECKING:
    from publisher.config import Country


@cache
def _catalog(language: str) -> NullTranslations:
    if language == LANGUAGES[0]:
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = resources.files("publisher").joinpath("locale", language, "LC_MESSAGES", "messages.po")
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return GNUTranslations(compiled)


@dataclass(frozen=True)
class Texts:
    """The texts of one language: `_`, `gettext`, `ngettext`, dates."""

    language: str

    @property
    def locale(self) -> str:
        return "en_GB" if self.language == "en" else self.language

    def gettext(self, message: str) -> str:
        return _catalog(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return _catalog(self.language).ngettext(singular, plural, count)

    def day(self, day: date) -> str:
        """`16 June 2022`, `2022年6月16日`, `2022 оны зургаадугаар сарын 16`."""
        if self.language == "en":  # the listing's own form, whatever CLDR says
            return format_day_month_year(day)
        from babel.dates import format_date

        return format_date(day, "long", locale=self.locale)

    def days(self, first: date, last: date) -> str:
        """A range as short as it reads right: one day, or the year once when it is the same."""
        if self.language == "en":
            return short_date_range(first, last)
        from babel.dates import format_interval

        if first == last:
            return self.day(first)
        if self.language == "mn":  # (CLDR's short Mongolian range has Roman-numeral months: IX/21)
            return f"{self.day(first)} – {self.day(last)}"
        return format_interval(first, last, "yMMMd", locale=self.locale)

    def event(self, first: date, last: date | None) -> str:
        """A release's date, or a meeting's days as the language writes them: `21–22 September
        2015`, `2015年9月21日至22日`, and in Mongolian both days in full."""
        if last is None:
            return self.day(first)
        if self.language == "en":
            return event_days(first, last)
        if self.language == "zh_Hans":
            from babel.dates import format_interval

            return re.sub(r"\s*[–-]\s*", "至", format_interval(first, last, "yMMMd", locale=self.locale))
        return self.days(first, last)

    def moment(self, moment: datetime) -> str:
        """A fire time in its own zone: `Mon 2026-12-07 09:00`, `2026年12月7日周一 09:00`."""
        if self.language == "en":
            return moment.strftime("%a %Y-%m-%d %H:%M")
        from babel.dates import format_skeleton

        return f"{format_skeleton('yMMMEd', moment, locale=self.locale, fuzzy=True)} {moment:%H:%M}"

    def country(self, code: str, configured: str) -> str:
        """A country's name: as configured in English, CLDR's in the other languages."""
        if self.language == "en":
            return configured
        from babel import Locale

        name: str = Locale.parse(self.locale).territories.get(code, configured)
        return name

    def join(self, names: Iterable[str]) -> str:
        """`China and Mongolia`, `中国和蒙古`, `Хятад, Монгол`."""
        from babel.lists import format_list

        return format_list(list(names), locale=self.locale)


ENGLISH = Texts(LANGUAGES[0])


def country_names(countries: tuple[Country, ...], codes: Iterable[str], texts: Texts) -> str:
    """`China and Mongolia`, `中国和蒙古`: the configured names (`countries`, the config's), or
    CLDR's in other languages."""
    return texts.join(texts.country(code, country_in(countries, code).name) for code in codes)


def texts(language: str) -> Texts:
    return Texts(supported(language) or LANGUAGES[0])


def labelled(texts: Texts, label: str, value: str) -> str:
    """`Label: value`, `标签：值` (Chinese takes a full-width colon and no space)."""
    return texts.gettext("%(label)s: %(detail)s") % {"label": label, "detail": value}
