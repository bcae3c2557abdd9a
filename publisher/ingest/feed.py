"""Feeds as input: RSS 0.9x, 1.0 and 2.0 and Atom 1.0 read with feedparser, JSON Feed 1.0 and 1.1
read by its specification (https://www.jsonfeed.org/version/1.1/).

Each entry: its id (Atom id, RSS guid, JSON Feed id) is the release's identity, so a re-read never
makes a second release and a changed entry updates the first; its title as text (HTML decoded
once); its link; published, else updated; summary; full content; its first category; an image
from an enclosure, media:thumbnail or media:content (JSON Feed: image, banner_image); its
countries when the feed names them as ours do (categories of COUNTRY_SCHEME; in a JSON Feed, the
`_publisher` extension's `countries`), else those its categories name (a configured country's
code or name: ingest/tagging.py), else the tagging rules decide.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from publisher.errors import InputError
from publisher.feeds.model import COUNTRY_SCHEME
from publisher.ingest.entry import Entry, normalize_space
from publisher.safehtml import html_text

log = logging.getLogger(__name__)
JSON_FEED = re.compile(r'"version"\s*:\s*"https://jsonfeed\.org/version/1(\.1)?"')


def is_json_feed(text: str) -> bool:
    return bool(JSON_FEED.search(text[:4096]))


def parse_feed(text: str, source: str, zone: tzinfo, now: datetime | None = None) -> Iterator[Entry]:
    """The entries of an RSS, Atom or JSON feed. One without a date is dated `now`, the first time
    it is read (a later read keeps that date: ingest/save.py `merged`), and said in a warning;
    without `now`, it is refused, naming it."""
    if is_json_feed(text):
        yield from (_dated(entry, source, now) for entry in _json_feed(text, source))
        return
    if _declares_entities(text):
        raise InputError(source, "", "the document declares entities (<!ENTITY> in its DOCTYPE): a feed "
                         "needs none, and they can expand a few bytes into gigabytes or read local files")
    import feedparser  # its first import costs a tenth of a second: only a feed's import pays it

    parsed = feedparser.parse(text.encode("utf-8"), sanitize_html=True, resolve_relative_uris=True)
    if not parsed.version:
        problem = getattr(parsed.get("bozo_exception"), "getMessage", lambda: "")() or "no RSS or Atom feed"
        raise InputError(source, "", f"not a feed that can be read: {problem}")
    for number, item in enumerate(parsed.entries, start=1):
        yield _dated(_xml_entry(item, source, f"entry {number}"), source, now)


_UNDATED = datetime.min.replace(tzinfo=UTC)  # until _dated gives it one
_INTERNAL_SUBSET = re.compile(r"<!DOCTYPE[^>\[]*\[(.*?)\]\s*>", re.DOTALL | re.IGNORECASE)


def _declares_entities(text: str) -> bool:
    """A DOCTYPE whose internal subset declares entities (a billion laughs, an external entity)."""
    subset = _INTERNAL_SUBSET.search(text, 0, 65_536)
    return subset is not None and "<!ENTITY" in subset.group(1).upper()


def _dated(entry: Entry, source: str, now: datetime | None) -> Entry:
    if not entry.undated:
        return entry
    if now is None:
        raise InputError(source, entry.where, "the entry has no date (published or updated)")
    log.warning("%s %s (%s): no date; dated when first read, %s", source, entry.where, entry.title[:80],
                now.isoformat(timespec="seconds"))
    return replace(entry, published=now)


def _xml_entry(item: Mapping[str, Any], source: str, where: str) -> Entry:
    when = item.get("published_parsed") or item.get("updated_parsed")
    content = item.get("content") or []
    title = _text(item.get("title_detail") or {}, source, where)
    image_url, image_credit = _image(item)
    tags = item.get("tags") or []
    words = tuple(str(tag["term"]) for tag in tags if tag.get("term") and not _country(tag))
    return Entry(
        title=title,
        published=_UNDATED if when is None else datetime.fromtimestamp(calendar.timegm(when), UTC),
        undated=when is None,
        summary=_summary(_plain(item.get("summary_detail") or {}), title),
        url=_link(item),
        image_url=image_url,
        image_credit=image_credit,
        countries=tuple(tag["term"] for tag in tags if _country(tag)) or None,
        categories=words,
        body_html=content[0].get("value") if content and content[0].get("type") == "text/html" else None,
        guid=item.get("id") or None,
        where=where,
    )


def _link(item: Mapping[str, Any]) -> str | None:
    """Its link; not an RSS guid feedparser took for one (a guid is a permalink unless it says
    otherwise) that is no web address, such as `urn:...`."""
    link = item.get("link") or None
    if link and item.get("guidislink") and not str(link).startswith(("http://", "https://")):
        return None
    return link


def _country(tag: Mapping[str, Any]) -> bool:
    """A category that is a country's code (ours say so by their scheme)."""
    return tag.get("scheme") == COUNTRY_SCHEME and bool(tag.get("term"))


def _text(detail: Mapping[str, Any], source: str, where: str) -> str:
    title = _plain(detail)
    if not title:
        raise InputError(source, where, "the entry has no title")
    return title


def _summary(summary: str, title: str) -> str:
    """A summary that only repeats the title (feeds, ours too, give one for readers that need
    it) says nothing of its own."""
    return "" if summary == title else summary


def _plain(detail: Mapping[str, Any]) -> str:
    """Text as a reader sees it: HTML's tags dropped and its entities decoded, once."""
    value = str(detail.get("value") or "")
    return html_text(value) if detail.get("type") in ("text/html", "application/xhtml+xml") else normalize_space(value)


def _image(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """An image's address, and its credit when the feed gives one (our Atom: the enclosure's title)."""
    for enclosure in item.get("enclosures") or []:
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            return str(enclosure["href"]), normalize_space(str(enclosure.get("title") or "")) or None
    for key in ("media_thumbnail", "media_content"):
        for media in item.get(key) or []:
            if media.get("url") and not str(media.get("medium", "image")).startswith(("video", "audio")):
                return str(media["url"]), None
    return None, None


def _json_feed(text: str, source: str) -> Iterator[Entry]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from None
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise InputError(source, "", "a JSON Feed needs a list of items")
    for number, item in enumerate(items, start=1):
        where = f"item {number}"
        if not isinstance(item, dict):
            raise InputError(source, where, "expected an object")
        yield _json_item(item, source, where)


def _json_item(item: Mapping[str, Any], source: str, where: str) -> Entry:
    stamp = item.get("date_published") or item.get("date_modified")
    published = _UNDATED if stamp is None else _rfc3339(stamp, source, where)
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InputError(source, where, "the item has no title")
    tags = item.get("tags")
    words = tuple(tag for tag in tags if isinstance(tag, str) and tag) if isinstance(tags, list) else ()
    title = normalize_space(title)
    extension = item.get("_publisher")
    countries = extension.get("countries") if isinstance(extension, dict) else None
    return Entry(
        title=title,
        published=published,
        undated=stamp is None,
        summary=_summary(normalize_space(_string(item.get("summary")) or ""), title),
        url=_string(item.get("url")),
        image_url=_string(item.get("image")) or _string(item.get("banner_image")),
        categories=words,
        body_html=_string(item.get("content_html")),
        guid=_string(item.get("id")),
        countries=tuple(code for code in countries if isinstance(code, str)) or None
        if isinstance(countries, list) else None,
        where=where,
    )


def _rfc3339(stamp: object, source: str, where: str) -> datetime:
    if not isinstance(stamp, str):
        raise InputError(source, where, f"not an RFC 3339 date: {stamp!r}")
    try:
        published = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(source, where, f"not an RFC 3339 date: {stamp!r}") from None
    if published.tzinfo is None:
        raise InputError(source, where, f"a date without its offset: {stamp!r}")
    return published


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


OLDER = ("prev-archive", "next")  # RFC 5005: an archived feed's previous archive; a paged feed's next page


def older_pages(text: str, base: str) -> list[str]:
    """The documents a feed says hold its older entries (RFC 5005 `prev-archive` and `next` links,
    a JSON Feed's `next_url`), as absolute http(s) addresses."""
    if is_json_feed(text):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return []
        found = [document.get("next_url")] if isinstance(document, dict) else []
    elif _declares_entities(text):
        return []
    else:
        import feedparser

        links = feedparser.parse(text.encode("utf-8")).feed.get("links") or []
        found = [link.get("href") for link in links if link.get("rel") in OLDER]
    addresses = [urljoin(base, href) for href in found if isinstance(href, str) and href]
    return [address for address in addresses if urlsplit(address).scheme in ("http", "https")]
