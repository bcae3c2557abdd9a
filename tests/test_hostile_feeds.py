"""A hostile feed source, served on loopback: entities that expand (a billion laughs) or read local
files, a 50 MB body, a 30-deep redirect chain, a redirect to a file, a body dripped a byte at a
time, and a feed whose content holds scripts. Each is refused with a message naming it (and the
store left as it was) or imported cleaned."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from helpers import NOW, QuietHandler, seeded, serve_http, sqlite_store
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Source
from publisher.errors import InputError
from publisher.jobs.imports import ImportRequest, import_files, import_source
from publisher.store.models import Release

ITEM = ("<item><title>{title}</title><link>https://www.ilo.org/x</link>"
        "<pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate></item>")
LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
          + "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1 if n > 1 else "") + ";") * 10}">\n' for n in range(1, 10))
          + ']>\n<rss version="2.0"><channel><title>x</title>' + ITEM.format(title="&lol9;") + "</channel></rss>")
EXTERNAL = ('<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
            '<rss version="2.0"><channel><title>x</title>' + ITEM.format(title="&secret;") + "</channel></rss>")
SCRIPTED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Hostile</title><link>https://news.example.org/</link>
<item><title>Jobs &lt;script&gt;alert(1)&lt;/script&gt; grow</title>
<link>https://news.example.org/2026/jobs/</link><guid isPermaLink="false">jobs-1</guid>
<pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate>
<description><![CDATA[<p onmouseover="steal()">Jobs grow.</p><script>steal()</script>]]></description>
<content:encoded><![CDATA[<p>Read <a href="javascript:steal()">this</a> and <a href="/more/">more</a>.</p>
<iframe src="https://evil.example/"></iframe>
<img src="/pictures/jobs.jpg" alt="Jobs" onerror="steal()">]]></content:encoded>
</item></channel></rss>"""
MEGABYTE = b"<!-- " + b"x" * (1 << 20) + b" -->\n"


class Hostile(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server names it)
        path = self.path
        if path.startswith("/hop/"):
            hop = int(path.rsplit("/", 1)[1])
            self.answer(302, b"", Location=f"/hop/{hop + 1}" if hop < 30 else "/scripted")
        elif path == "/to-file":
            self.answer(302, b"", Location="file:///etc/passwd")
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            self.wfile.write(b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</title>\n')
            for _ in range(50):  # 50 MB, unless the reader stops first
                try:
                    self.wfile.write(MEGABYTE)
                except OSError:
                    return
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            for byte in SCRIPTED.encode():
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
        else:
            body = {"/laughs": LAUGHS, "/external": EXTERNAL, "/scripted": SCRIPTED}.get(path)
            self.answer(200 if body else 404, (body or "").encode(), "application/rss+xml")


@pytest.fixture
def hostile() -> Iterator[str]:
    yield from serve_http(Hostile)


def stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Release)) or 0


@pytest.mark.parametrize(("path", "message"), [
    ("/laughs", "the document declares entities"),
    ("/external", "the document declares entities"),
    ("/big", "the response is larger than 5000000 bytes"),
    ("/hop/0", "more than 5 redirects"),
    ("/to-file", "a redirect to a file: address is not followed"),
])
def test_a_hostile_source_is_refused_naming_it_and_the_store_is_as_it_was(hostile, tmp_path, path: str,
                                                                          message: str) -> None:
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    before = stored(sessions)
    started = time.monotonic()
    with pytest.raises(InputError) as refused:
        import_files(sessions, config, [ImportRequest(hostile + path, "feed")], NOW)
    assert message in str(refused.value) and hostile + path in str(refused.value)
    assert stored(sessions) == before and time.monotonic() - started < 10


def test_a_source_that_drips_is_cut_off_at_its_timeout(hostile, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    source = Source(name="drip", location=hostile + "/drip", format="feed", timeout="1s")  # type: ignore[arg-type]
    before, started = stored(sessions), time.monotonic()
    with pytest.raises(InputError, match="the response took longer than 1 s"):
        import_source(sessions, config, source, NOW)
    assert stored(sessions) == before and time.monotonic() - started < 5


def test_a_feed_holding_scripts_is_imported_cleaned(hostile, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    import_files(sessions, config, [ImportRequest(hostile + "/hop/27")], NOW)  # 3 redirects: followed
    with sessions() as session:
        release = session.scalars(select(Release).where(Release.title.like("Jobs%"))).one()
    assert release.title == "Jobs <script>alert(1)</script> grow"  # text: escaped wherever it is shown
    assert release.summary == "Jobs grow." and release.body_html is not None
    assert "steal" not in release.body_html and "iframe" not in release.body_html
    assert '<a href="https://news.example.org/more/"' in release.body_html
    assert 'src="https://news.example.org/pictures/jobs.jpg"' in release.body_html and 'alt="Jobs"' in release.body_html
