"""Any title and summary comes out as the same text in Atom, RSS and JSON Feed, as readers see it."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

import feedparser
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from publisher.feeds.model import FeedItem, FeedMeta, one_line, trimmed
from publisher.feeds.render import render_atom, render_json_feed, render_rss

WHEN = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
META = FeedMeta(code="cn", title="Feed", subtitle="Sub", self_url="https://x.org/feeds/cn/atom.xml",
                site_url="https://x.org", language="en", author="Office", updated=WHEN)
TRICKY = "Tom & Jerry <script>alert('x')</script> \"quoted\" 中国 Монгол Улс 𝄞 😀"


def _item(title: str, summary: str) -> FeedItem:
    return FeedItem(id="tag:x.org,2024:1", title=one_line(title), link="https://x.org/r/1",
                    published=WHEN, updated=WHEN, summary=trimmed(summary))


def _feedparser_mangles(text: str) -> bool:
    """feedparser "repairs" text that looks like UTF-8 read as Latin-1 (and maps C1 controls to
    cp1252): such text cannot be compared through it. lxml checks those strings exactly below."""
    if any("\x80" <= char <= "\x9f" for char in text):
        return True
    try:
        return text.encode("latin-1").decode("utf-8") != text
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False


def _read_back(title: str, summary: str) -> dict[str, tuple[str, str]]:
    item = _item(title, summary)
    atom = feedparser.parse(render_atom(META, [item]))
    rss = feedparser.parse(render_rss(META, [item]))
    assert atom.bozo == 0 and rss.bozo == 0
    [atom_entry], [rss_entry] = atom.entries, rss.entries
    json_item = json.loads(render_json_feed(META, [item]))["items"][0]
    read = {
        # Atom declares its types: text that looks like markup goes out as type="html".
        "atom": (_shown(atom_entry.title_detail), _shown(atom_entry.summary_detail)),
        # RSS descriptions are HTML: a reader shows the unescaped text.
        "rss": (rss_entry.title, html.unescape(rss_entry.get("summary", ""))),
        "json": (json_item["title"], json_item.get("summary", "")),
    }
    if rss_entry.title_detail["type"] == "text/html":
        # RSS titles are plain text (RSS 2.0; newsboat and the JavaScript parsers read them so,
        # tests/test_feed_readers.py), but feedparser guesses that a title with a tag or an
        # entity in it is HTML, and "repairs" it: compared exactly through lxml instead.
        read["rss"] = (_plain_rss_title(item), read["rss"][1])
    return read


def _plain_rss_title(item: FeedItem) -> str:
    title = etree.fromstring(render_rss(META, [item])).findtext("channel/item/title")
    assert title is not None
    return title


def _shown(detail: dict[str, str]) -> str:
    return html.unescape(detail["value"]) if detail["type"] == "text/html" else detail["value"]


# Arbitrary text, and text made of the pieces of markup that trip readers up.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.lists(
    st.sampled_from(["<", ">", "&", ";", "#", "/", "amp", "lt", "copy", "x27", "b", "p", "em",
                     "script", " ", "\"", "'", "中", "𝄞", "\n"]), max_size=15).map("".join)


@settings(max_examples=400, deadline=None)
@given(text.filter(lambda t: one_line(t) != ""), text)
@example(TRICKY, TRICKY + "\n\nSecond paragraph & more")
@example("a &amp; b", "x &lt; y")
@example("<b>bold</b> and x</p>", "<p>para</p> &copy; &#169;")
@example("a &copy; b <em onclick='x'>e</em>", "<img src=x onerror=alert(1)>")
@example("\x00\x08bell\x0b\x1f", "\ufffe\uffff")
def test_titles_and_summaries_survive_every_format(title: str, summary: str) -> None:
    expected = (one_line(title), trimmed(summary))
    if any(_feedparser_mangles(part) for part in expected):
        return  # test_lxml_reads_every_text_exactly covers these
    for name, got in _read_back(title, summary).items():
        # An Atom entry without a summary carries its title as one (W3C: MissingTextualContent).
        want = (expected[0], expected[1] or expected[0]) if name == "atom" else expected
        assert got == want, name


@settings(max_examples=200, deadline=None)
@given(text.filter(lambda t: one_line(t) != ""), text)
def test_lxml_reads_every_text_exactly(title: str, summary: str) -> None:
    item = _item(title, summary)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    atom = etree.fromstring(render_atom(META, [item]))
    assert _atom_text(atom.find("a:entry/a:title", namespaces=ns)) == one_line(title)
    assert _atom_text(atom.find("a:entry/a:summary", namespaces=ns)) == (
        trimmed(summary) or one_line(title))  # an entry without a summary: the title stands in
    rss = etree.fromstring(render_rss(META, [item]))
    description = rss.findtext("channel/item/description") or ""
    assert html.unescape(description) == trimmed(summary)


def _atom_text(element: etree._Element | None) -> str:
    assert element is not None
    text = element.text or ""
    return html.unescape(text) if element.get("type") == "html" else text


def test_forbidden_control_characters_are_removed_and_the_rest_kept() -> None:
    got = _read_back("A\x00B\x1fC\x0b", "x\x08y")
    assert got["atom"] == got["rss"] == got["json"] == ("ABC", "xy")


def test_tricky_text_arrives_as_text_not_markup() -> None:
    item = _item(TRICKY, TRICKY)
    atom = render_atom(META, [item]).decode()
    assert "<script>" not in atom and '<title type="html">' in atom and "&amp;lt;script&amp;gt;" in atom
    assert "𝄞" in atom and "中国" in atom and "Монгол" in atom
    assert _read_back(TRICKY, TRICKY)["atom"] == (TRICKY, TRICKY)
