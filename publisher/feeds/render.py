"""Renders one feed as Atom 1.0, RSS 2.0 or JSON Feed 1.1 bytes: pure, no database, no files.

feedgen 1.0.0 traps, and how they are handled here:
- `add_entry` prepends: entries are added with `order="append"`, so newest first stays first.
- feed and entry `updated` default to now: both are always set from the data.
- the RSS channel `<link>` is the href of the *last* `link()` call, and one link list serves
  both formats: each format gets its own FeedGenerator, and in RSS the site link is added last.
- Atom entry links lose `rel` and `type` (an enclosure would come out as a second alternate
  link): only the alternate link goes through feedgen (a link without `rel` *is* the alternate
  link in Atom); the image enclosure is written by the small extension below, with its `rel`
  and `type`. The extension also writes what feedgen lacks: RFC 5005 `fh:archive`, the WebSub
  hub link in RSS, and `dc:creator` in RSS items.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from datetime import datetime

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator
from lxml import etree

from publisher.feeds.media import ATOM_TYPE, RSS_TYPE
from publisher.feeds.model import COUNTRY_SCHEME, FeedItem, FeedMeta

GENERATOR = "publisher"

_ATOM_NS = "http://www.w3.org/2005/Atom"
_FH_NS = "http://purl.org/syndication/history/1.0"
_DC_NS = "http://purl.org/dc/elements/1.1/"
# Text a reader (or the W3C validator) would take for HTML: a tag, or an entity reference.
_LOOKS_LIKE_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>|&#?\w+;")


class _AtomFeedExtension(BaseExtension):
    is_archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"fh": _FH_NS} if self.is_archive else {}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.is_archive:
            etree.SubElement(feed, f"{{{_FH_NS}}}archive")
        return feed


class _AtomEntryExtension(BaseEntryExtension):
    enclosure: dict[str, str] | None = None  # the attributes of the image's link

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.enclosure is not None:
            etree.SubElement(entry, "link", self.enclosure)
        for name in ("title", "summary"):
            _declare_markup(entry.find(name))  # (feedgen makes them without a namespace)
        return entry


def _declare_markup(element: etree._Element | None) -> None:
    """Atom text that looks like HTML goes out as `type="html"`, escaped once more: readers
    then show the very characters (`<b>` as written, not bold), and the W3C validator does not
    warn of undeclared HTML. Other text stays `type="text"` (every reader shows it as is)."""
    if element is not None and element.text and _LOOKS_LIKE_MARKUP.search(element.text):
        element.set("type", "html")
        element.text = html.escape(element.text, quote=False)


class _RssFeedExtension(BaseExtension):
    hub: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"dc": _DC_NS}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        if self.hub is not None:
            channel = feed[0]
            etree.SubElement(channel, f"{{{_ATOM_NS}}}link", rel="hub", href=self.hub)
        return feed


class _RssEntryExtension(BaseEntryExtension):
    creator: str | None = None

    def extend_rss(self, item: etree._Element) -> etree._Element:
        if self.creator:
            etree.SubElement(item, f"{{{_DC_NS}}}creator").text = self.creator
        return item


def render_atom(meta: FeedMeta, items: Sequence[FeedItem]) -> bytes:
    fg = _common(meta)
    fg.register_extension("publisher", _AtomFeedExtension, _AtomEntryExtension, atom=True, rss=False)
    fg.publisher.is_archive = meta.is_archive
    fg.link(href=meta.self_url, rel="self", type=ATOM_TYPE)
    fg.link(href=meta.site_url, rel="alternate", type="text/html")
    if meta.hub:
        fg.link(href=meta.hub, rel="hub")
    for link in meta.links:
        fg.link(href=link.href, rel=link.rel, type=link.type)
    fg.author(name=meta.author, uri=meta.site_url)
    if meta.icon:
        fg.icon(meta.icon)
    if meta.logo:
        fg.logo(meta.logo)
    for item in items:
        entry = _entry(fg, item)
        entry.updated(item.updated)
        entry.author(name=meta.author, uri=meta.site_url)
        # An entry without text draws the validator's MissingTextualContent: its title stands in.
        entry.summary(item.summary or item.title, type="text")
        if item.content_html:
            entry.content(item.content_html, type="html")
        if item.image_url:
            enclosure = {"rel": "enclosure", "type": item.image_type or "image/jpeg",
                         "href": item.image_url}
            if item.image_credit:
                enclosure["title"] = item.image_credit
            entry.publisher.enclosure = enclosure
    atom: bytes = fg.atom_str(pretty=True)
    return atom


def render_rss(meta: FeedMeta, items: Sequence[FeedItem]) -> bytes:
    fg = _common(meta)
    fg.register_extension("publisher", _RssFeedExtension, _RssEntryExtension, atom=False, rss=True)
    fg.publisher.hub = meta.hub
    fg.link(href=meta.self_url, rel="self", type=RSS_TYPE)
    fg.link(href=meta.site_url, rel="alternate")  # last: it becomes the channel <link>
    if meta.logo:
        fg.image(url=meta.logo, title=meta.title, link=meta.site_url)
    for item in items:
        entry = _entry(fg, item)
        entry.guid(item.id, permalink=False)
        # RSS descriptions are HTML by convention: escaped, the plain text reads as itself.
        if item.summary:
            entry.description(html.escape(item.summary, quote=False))
        if item.content_html:  # <content:encoded>, beside the description (or as it, without one)
            entry.content(item.content_html)
        if item.image_url:
            entry.enclosure(item.image_url, "0", item.image_type or "image/jpeg")
        entry.publisher.creator = meta.author
    rss: bytes = fg.rss_str(pretty=True)
    return rss


def _common(meta: FeedMeta) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(meta.self_url)
    fg.title(meta.title)
    fg.subtitle(meta.subtitle)
    fg.language(meta.language)
    fg.updated(meta.updated)
    fg.generator(GENERATOR)
    return fg


def _entry(fg: FeedGenerator, item: FeedItem) -> FeedEntry:
    entry = fg.add_entry(order="append")
    entry.id(item.id)
    entry.title(item.title)
    entry.link(href=item.link, rel="alternate")
    entry.published(item.published)
    if item.category:  # Atom <category term>, RSS <category>
        entry.category(term=item.category)
    for code in item.countries:  # Atom <category term scheme>, RSS <category domain>
        entry.category(term=code, scheme=COUNTRY_SCHEME)
    return entry


def render_json_feed(meta: FeedMeta, items: Sequence[FeedItem]) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    author = {"name": meta.author, "url": meta.site_url}
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": meta.site_url,
        "feed_url": meta.self_url,
        "description": meta.subtitle,
        "language": meta.language,
        "authors": [author],
    }
    if meta.icon:
        feed["favicon"] = meta.icon
    if meta.logo:
        feed["icon"] = meta.logo
    if meta.hub:
        feed["hubs"] = [{"type": "WebSub", "url": meta.hub}]
    feed["items"] = [_json_item(item) for item in items]
    # Compact: json's fast C encoder only runs without indentation.
    return (json.dumps(feed, ensure_ascii=False) + "\n").encode("utf-8")


def _json_item(item: FeedItem) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": item.id,
        "url": item.link,
        "title": item.title,
        "content_text": item.summary or item.title,
        "date_published": _rfc3339(item.published),
        "date_modified": _rfc3339(item.updated),
    }
    if item.summary:
        entry["summary"] = item.summary
    if item.content_html:
        entry["content_html"] = item.content_html
    if item.image_url:
        entry["image"] = item.image_url
    if item.category:
        entry["tags"] = [item.category]
    if item.countries:  # an extension (its name starts with "_"), as JSON Feed 1.1 allows
        entry["_publisher"] = {"countries": list(item.countries)}
    return entry


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat()
