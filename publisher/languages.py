"""The languages readers get (English, Chinese (Simplified), Mongolian) and the tags that name them.

Apart from the catalogs (i18n.py) so that the config can check a language without loading them.
"""

from __future__ import annotations

import re

LANGUAGES = ("en", "zh_Hans", "mn")  # the first is the language the texts are written in
NAMES = {"en": "English", "zh_Hans": "中文", "mn": "Монгол"}  # each in its own language
_PRIMARY = {"en": "en", "zh": "zh_Hans", "mn": "mn"}  # a browser's language tag's first part


def supported(language: str) -> str | None:
    """`language` as one of LANGUAGES (`zh-CN`, `zh_Hans`, `mn-MN`, `EN`...), or None."""
    tag = language.strip().replace("-", "_")
    if tag in LANGUAGES:
        return tag
    return _PRIMARY.get(tag.split("_")[0].lower())


def negotiate(accept_language: str, default: str) -> str:
    """The best of LANGUAGES for an `Accept-Language` header (RFC 9110: weights, in order of
    preference), else `default`."""
    weighted = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0 and (found := supported(tag)):
            weighted.append((-weight, position, found))
    return min(weighted)[2] if weighted else default


_TRADITIONAL = ("zh_hant", "zh_tw", "zh_hk", "zh_mo")


def traditional_chinese(tags: str) -> bool:
    """Whether the reader's first Chinese choice (a `?lang=` value or an `Accept-Language`
    header, in its order) is Traditional Chinese, which readers get as Simplified (say so)."""
    for part in tags.split(",")[:20]:
        tag = part.partition(";")[0].strip().replace("-", "_").lower()
        if tag.startswith("zh"):
            return tag.startswith(_TRADITIONAL)
    return False


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def written_in(text: str) -> str | None:
    """The BCP 47 tag of what a release's text is written in, told by its script (Han: Chinese,
    Cyrillic: Mongolian, Latin: English); None when it has no letters to tell by."""
    if _HAN.search(text):
        return "zh-Hans"
    if _CYRILLIC.search(text):
        return "mn"
    return "en" if _LATIN.search(text) else None
