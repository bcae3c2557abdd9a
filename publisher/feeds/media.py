"""The media types of the files feeds/ holds, by file name: one table for writing and serving."""

from __future__ import annotations

from pathlib import PurePosixPath

ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
JSON_FEED_TYPE = "application/feed+json"
OPML_TYPE = "text/x-opml"

FEED_FILES = {"atom.xml": ATOM_TYPE, "rss.xml": RSS_TYPE, "feed.json": JSON_FEED_TYPE}
_BY_SUFFIX = {".xml": "application/xml", ".json": "application/json", ".opml": OPML_TYPE,
              ".html": "text/html; charset=utf-8"}


def media_type(name: str, suffix: str, in_archive: bool) -> str:
    """A feed by its name; a yearly archive is Atom; anything else by its suffix."""
    if name in FEED_FILES:
        return FEED_FILES[name]
    if suffix == ".xml" and in_archive:
        return ATOM_TYPE
    return _BY_SUFFIX.get(suffix, "application/octet-stream")


def file_type(relative: str) -> str:
    """The Content-Type a built file is served with, by its path in the folder; text with its
    charset."""
    path = PurePosixPath(relative)
    kind = media_type(path.name, path.suffix, in_archive=path.parent.name == "archive")
    return kind + "; charset=utf-8" if kind.startswith("text/") and "charset" not in kind else kind
