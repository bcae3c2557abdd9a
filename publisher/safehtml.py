"""HTML that comes from outside (a feed's content, a JSON or CSV `body_html`) made harmless before it
is stored, with an allow-list (nh3, the Ammonia sanitizer): the tags and attributes of an article
and nothing else; no scripts, styles, frames, forms or objects (with what they hold); no event
handlers or `style` attributes; links only to http(s) and mail; pictures only over https;
addresses relative to the release's page made absolute; comments dropped.
"""

from __future__ import annotations

import html as html_module
import re
from urllib.parse import urljoin, urlsplit

import nh3

TAGS = frozenset({
    "p", "br", "hr", "a", "em", "strong", "b", "i", "u", "s", "small", "mark", "sub", "sup", "abbr", "cite",
    "q", "blockquote", "code", "pre", "kbd", "time", "span", "h2", "h3", "h4", "h5", "h6",
    "ul", "ol", "li", "dl", "dt", "dd", "figure", "figcaption", "img",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
})
ATTRIBUTES = {
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"}, "ol": {"start", "reversed"}, "blockquote": {"cite"}, "q": {"cite"},
}
# Gone with everything inside them: what they hold is code, or controls, not the article's text.
DROPPED_WHOLE = frozenset({"script", "style", "template", "iframe", "frame", "frameset", "object", "embed",
                           "noscript", "select", "textarea", "button", "svg", "math", "canvas", "audio", "video"})
_SCHEMES = frozenset({"http", "https", "mailto"})

# What a warning is given for (the cleaning does not depend on it): a sign the HTML tried more
# than an article does.
_HOSTILE = re.compile(r"<\s*(script|iframe|frame|object|embed|form|style|svg|math)\b|\son[a-z]+\s*=|"
                      r"javascript:|vbscript:|data:|\sstyle\s*=", re.IGNORECASE)
_NO_PICTURE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")  # one whose address was not allowed
_EMPTY = re.compile(r"<(figure|figcaption|p|blockquote)>\s*</\1>")  # what held only what was taken out


def clean_html(html: str, base: str | None) -> str:
    """`html` as an article may hold it; links relative to `base` (the release's page) made absolute,
    or dropped when there is no base."""
    def attribute(tag: str, name: str, value: str) -> str | None:
        if tag == "img" and name == "src":
            address = urljoin(base, value) if base else value
            return address if urlsplit(address).scheme == "https" else None
        return value

    def relative(address: str) -> str | None:
        return urljoin(base, address) if base and urlsplit(base).scheme in ("http", "https") else None

    cleaned: str = nh3.clean(html, tags=set(TAGS), attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
                             clean_content_tags=set(DROPPED_WHOLE), url_schemes=set(_SCHEMES), strip_comments=True,
                             link_rel="noopener noreferrer nofollow", attribute_filter=attribute,
                             url_relative=relative)
    return _EMPTY.sub("", _NO_PICTURE.sub("", cleaned)).strip()


_TAGS = re.compile(r"<[^>]+>")
# Tags that end a line or a block: a space where they stood (other tags leave nothing: "<b>x</b>.").
_BREAKS = re.compile(r"</?(?:p|div|br|li|ul|ol|dl|dt|dd|h[1-6]|tr|td|th|table|figure|figcaption|blockquote|"
                     r"section|article|header|footer|pre|hr)\b[^>]*>", re.IGNORECASE)


def html_text(html: str) -> str:
    """HTML's text as a reader sees it: tags dropped (a space where a block or a line ended),
    entities decoded once, white space collapsed."""
    return " ".join(html_module.unescape(_TAGS.sub("", _BREAKS.sub(" ", html))).split())


def looks_hostile(html: str) -> bool:
    """Whether the HTML held scripts, handlers, frames, forms, styles or script links."""
    return _HOSTILE.search(html) is not None
