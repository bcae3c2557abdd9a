"""The pages about the feeds: index.html (with autodiscovery links) and an OPML 2.0 list."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from publisher.feeds.media import ATOM_TYPE, JSON_FEED_TYPE, RSS_TYPE
from publisher.feeds.targets import FeedConfig, FeedTarget, feed_targets, feed_title
from publisher.i18n import texts
from publisher.templating import render

OPML_NAME = "feeds.opml"
INDEX_NAME = "index.html"
FEED_FILES = (("atom.xml", ATOM_TYPE, "Atom"), ("rss.xml", RSS_TYPE, "RSS"),
              ("feed.json", JSON_FEED_TYPE, "JSON Feed"))


@dataclass(frozen=True)
class FeedFormat:
    url: str
    media_type: str
    label: str


@dataclass(frozen=True)
class ListedFeed:
    title: str
    formats: tuple[FeedFormat, ...]
    country: str | None  # its code; None: the feed of every country


def listed_feeds(config: FeedConfig) -> list[ListedFeed]:
    return [_listed(config, target) for target in feed_targets(config)]


def _listed(config: FeedConfig, target: FeedTarget) -> ListedFeed:
    formats = tuple(FeedFormat(config.url(f"{target.code}/{name}"), media_type, label)
                    for name, media_type, label in FEED_FILES)
    return ListedFeed(feed_title(config, target), formats, target.country)


def render_index(config: FeedConfig) -> bytes:
    """The page is a file, written once: in the site's language."""
    language = texts(config.site.language)
    page = render("feeds-index.html", {
        "title": language.gettext("%(site)s: feeds") % {"site": config.site.name},
        "language": config.site.language,
        "feeds": listed_feeds(config),
        "opml_url": config.url(OPML_NAME),
        "site_url": config.site.home,
        "site_name": config.site.name,
    }, texts=language)
    return page.encode("utf-8")


def render_opml(config: FeedConfig) -> bytes:
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = f"{config.site.name}: feeds"
    etree.SubElement(head, "ownerName").text = config.site.name
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(opml, "body")
    for feed in listed_feeds(config):
        atom = feed.formats[0]  # OPML says type="rss" for any feed format
        etree.SubElement(body, "outline", type="rss", text=feed.title, title=feed.title,
                         xmlUrl=atom.url, htmlUrl=config.site.home)
    document: bytes = etree.tostring(opml, pretty_print=True, xml_declaration=True, encoding="UTF-8")
    return document
