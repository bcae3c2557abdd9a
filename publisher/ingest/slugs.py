"""A release's slug from its title: readable Latin, whatever script the title is in."""

from __future__ import annotations

import re

from slugify import slugify as make_slug

from publisher.ingest.pinyin import HAN, readings

_SLUG_LENGTH = 80
_MARKUP = re.compile(r"<[^>]*>|&#?\w+;")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """A readable Latin slug: markup dropped, Chinese as pinyin, other scripts transliterated
    (Mongolian Cyrillic, accents), words joined by hyphens, cut at a word boundary; `release`
    when nothing is left."""
    text = _MARKUP.sub(" ", title) if "<" in title or "&" in title else title
    if not text.isascii() and HAN.search(text):  # (isascii costs a hundredth of the search)
        text = " ".join(readings().pinyin(text))
    return _whole_words(latin_slug(text)) or "release"


def _whole_words(slug: str) -> str:
    """The longest run of whole words from the start that fits; a first word too long, cut."""
    if len(slug) <= _SLUG_LENGTH or slug[_SLUG_LENGTH] == "-":
        return slug[:_SLUG_LENGTH]
    head = slug[:_SLUG_LENGTH]
    return head[:head.rindex("-")] if "-" in head else head


def latin_slug(text: str) -> str:
    """python-slugify's slug; for plain ASCII text (most titles, and pinyin) the same result
    by two regular expressions instead of eight (a property test holds them equal)."""
    if not text.isascii() or "&" in text:
        return make_slug(text)
    text = text.replace("'", "-").lower()
    if "," in text:
        text = _DIGIT_COMMA.sub("", text)  # 1,000 -> 1000, as it does
    return _NOT_SLUG.sub("-", text).strip("-")
