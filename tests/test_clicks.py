"""Counted links over real HTTP, with the mail read from a real SMTP server: readers in two
languages, a reader clicking twice, scanners (HEAD, a known crawler, every link in a second),
forged links, and what the store keeps."""

from __future__ import annotations

import csv
import html
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import PEOPLE, SITE, SQLITE_ONLY, add_people, local, setup_store
from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker
from test_web_subscriptions import send_digest

from publisher.cli import cli
from publisher.clicks.counts import edition_clicks
from publisher.clicks.figures import Counted, Seen, count_clicks
from publisher.clicks.links import LinkSigner
from publisher.jobs.clicks import close_counting
from publisher.store.models import Edition, EditionLink, LinkClick, Release, Subscriber

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/131.0.0.0 Safari/537.36"}
READERS = ("cn@example.org", "second@example.org", "Both@example.org")  # the last in Mongolian
COUNTED = re.compile(r"https?://[^\s\"<>]+/r/[^\s\"<>]+")


def counted_links(server, address: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The counted links of the digest `address` received: its text part's, then its HTML's."""
    text, html = (part.get_content() for part in server.to(address)[-1].message.iter_parts())
    return list(dict.fromkeys(COUNTED.findall(text) + COUNTED.findall(html)))


def wait_for_clicks(sessions: sessionmaker[Session], count: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        with sessions() as session:
            stored = session.scalar(select(func.count()).select_from(LinkClick))
        if stored == count or time.monotonic() > deadline:
            assert stored == count
            return
        time.sleep(0.2)


def follow(base: str, link: str, *, method: str = "GET", headers: dict[str, str] = BROWSER) -> httpx.Response:
    return httpx.request(method, local(link, base), headers=headers, follow_redirects=False)


@pytest.fixture
def mailed(web):  # type: ignore[no-untyped-def]
    """A digest of China sent to two readers in English (cn@, second@) and one in Mongolian (Both@)."""
    _base, path, _config, sessions, _server = web
    add_people(sessions, {**PEOPLE, "second@example.org": ("CN", "confirmed")})
    with sessions.begin() as session:
        session.execute(update(Subscriber).where(Subscriber.email == "Both@example.org").values(language="mn"))
    sent = send_digest(path)
    assert sent.endswith(" 3 sent, 0 failed\n"), sent
    return web  # (the web fixture writes what the front noted when the test ends)


def test_each_link_is_counted_once_per_reader_and_leads_where_the_edition_said(mailed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base, path, _config, sessions, server = mailed
    cn, second, mn = (counted_links(server, who) for who in READERS)
    assert cn and mn and cn[0] != second[0]
    english_mail, mongolian_mail = (" ".join(next(server.to(who)[-1].message.iter_parts()).get_content().split())
                                    for who in ("cn@example.org", "Both@example.org"))
    assert "We count how many readers follow each link, never who: nobody is tracked." in english_mail
    assert "хэн нээснийг хэзээ ч биш: хэнийг ч мөрддөггүй." in mongolian_mail  # (told in their language)
    assert "never who" in httpx.get(base + "/subscribe").text
    assert "从不记录是谁点击的" in httpx.get(base + "/subscribe?lang=zh_Hans").text
    with sessions() as session:
        targets = {link.target for link in session.scalars(select(EditionLink))}
    first = follow(base, cn[0])
    assert first.status_code == 302 and first.headers["location"] in targets
    assert urlsplit(first.headers["location"]).path.startswith("/") and first.headers["cache-control"] == "no-store"
    follow(base, cn[0])  # the same reader again: one reader, two clicks
    follow(base, second[0])
    follow(base, second[1])
    follow(base, mn[0])
    follow(base, mn[1])
    wait_for_clicks(sessions, 6)
    with sessions() as session:
        edition = session.scalars(select(Edition)).one()
        figures = report(session, edition)
    english, mongolian = (variant_of(sessions, link) for link in (cn[0], mn[0]))
    assert english != mongolian and variant_of(sessions, second[0]) == english
    assert figures[(english, 1)] == Counted(clicks=3, readers=2)
    assert figures[(english, 2)] == Counted(clicks=1, readers=1)
    assert figures[(mongolian, 1)] == Counted(clicks=1, readers=1)
    assert figures[(mongolian, 2)] == Counted(clicks=1, readers=1)
    out = CliRunner().invoke(cli, ["--config", str(path), "report", "china-weekly", "--clicks-csv",
                                   str(tmp_path / "clicks.csv")]).stdout
    first, *table = out.splitlines()
    assert first.endswith("; 3 readers clicked (100.0% of 3), 6 clicks, 0 set aside as automatic"), out
    rows = list(csv.DictReader((tmp_path / "clicks.csv").open(encoding="utf-8")))
    by_language = {row["what"]: row for row in rows if row["row"] == "language"}
    english_row = by_language["en"]
    assert (english_row["delivered"], english_row["readers"], english_row["clicks"]) == ("2", "2", "4")
    assert (by_language["mn"]["readers"], by_language["mn"]["rate"]) == ("1", "1.0000")
    with sessions() as session:
        first_release = session.scalar(select(Release.title).where(Release.id == session.scalar(
            select(EditionLink.release_id).where(EditionLink.variant_id == english, EditionLink.number == 1))))
    [release] = [row for row in rows if row["row"] == "link" and row["what"] == first_release]
    assert (release["kind"], release["delivered"], release["readers"], release["clicks"]) == ("release", "3", "3", "4")
    assert any(first_release[:30] in line for line in table)
    metrics = httpx.get(base + "/metrics").text
    for line in ('publisher_edition_readers_clicked{digest="china-weekly",edition="1"} 3.0',
                 'publisher_edition_clicks{digest="china-weekly",edition="1"} 6.0',
                 'publisher_edition_delivered{digest="china-weekly",edition="1"} 3.0'):
        assert line in metrics.splitlines(), metrics
    console, digests = the_console(base, sessions, "/admin/digests/china-weekly/editions/1", "/admin/digests")
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", console.text)).split())
    assert "3 sent; 3 readers clicked (100.0%)" in " ".join(re.sub(r"<[^>]+>", " ", digests.text).split())
    assert "3 of 3 readers clicked a link (100.0%), 6 clicks; 0 set aside as automatic" in words
    assert "Bounced: 0 hard, 0 soft; 0 complained; 0 unsubscribed since." in words
    chart = lxml.html.fromstring(console.text).cssselect("svg.chart")[0]
    assert chart.get("role") == "img" and chart.cssselect("title")[0].text == "Readers who clicked, per link"
    assert f"{first_release[:40]}" in words and "mn 1 1 100.0% 2 0" in words and "en 2 2 100.0% 4 0" in words


def test_scanners_are_set_aside_as_automatic(mailed) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = mailed
    cn, both, mn = (counted_links(server, who) for who in READERS)
    assert follow(base, cn[0], method="HEAD").status_code == 302  # a HEAD leads on too, uncounted
    crawler = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
    assert follow(base, mn[0], headers=crawler).status_code == 302
    with ThreadPoolExecutor(len(both)) as scanner:  # following every link of its message at once
        assert {answer.status_code for answer in scanner.map(lambda link: follow(base, link), both)} == {302}
    follow(base, mn[1])  # a reader
    wait_for_clicks(sessions, 3 + len(both))
    with sessions() as session:
        figures = report(session, session.scalars(select(Edition)).one())
    assert sum(counted.readers for counted in figures.values()) == 1
    assert sum(counted.clicks for counted in figures.values()) == 1
    assert sum(counted.automatic for counted in figures.values()) == 2 + len(both)


@SQLITE_ONLY  # (the store's part is the counts': both stores count below)
def test_a_changed_or_made_up_link_is_refused_and_none_leads_elsewhere(mailed) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = mailed
    link = counted_links(server, "cn@example.org")[0]
    edition, variant, number, nonce, mac = urlsplit(link).path.removeprefix("/r/").split(".")
    stem = f"{edition}.{variant}"
    other_mac = mac[:-1] + ("B" if mac.endswith("A") else "A")
    for changed in (f"{stem}.{int(number) + 1}.{nonce}.{mac}", f"{stem}.{number}.{nonce}x.{mac}",
                    f"{stem}.{number}.{nonce}.{other_mac}", "1.1.1.x.y",
                    f"{stem}.{number}.{nonce}.{mac}/https://evil.example/"):
        answer = follow(base, f"{SITE}/r/{changed}")
        assert answer.status_code in (400, 404) and "location" not in answer.headers, changed
        assert answer.status_code == 404 or "does not work" in answer.text
    with sessions() as session:
        hosts = {urlsplit(target).hostname for target in session.scalars(select(EditionLink.target))}
    for reader in READERS:
        for link in counted_links(server, reader):
            assert urlsplit(follow(base, link).headers["location"]).hostname in hosts


@SQLITE_ONLY
def test_a_withdrawn_release_lands_on_its_page_that_says_so(mailed, live_server) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = mailed
    link = counted_links(server, "cn@example.org")[0]
    assert follow(base, link).status_code == 302  # the front keeps the variant's links for 5 s
    with sessions.begin() as session:
        release_id = session.scalar(select(EditionLink.release_id).where(EditionLink.number == 1).limit(1))
        session.execute(update(Release).where(Release.id == release_id).values(withdrawn=datetime.now(UTC)))
    live_server[0].app.clicks.kept.clear()  # (they have passed)
    landed = follow(base, link)
    assert urlsplit(landed.headers["location"]).path.startswith("/releases/")
    assert httpx.get(local(landed.headers["location"], base)).status_code == 410


@SQLITE_ONLY
def test_a_variants_links_are_read_once_however_many_readers_click_at_once(mailed, live_server) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = mailed
    links = [link for who in ("cn@example.org", "second@example.org") for link in counted_links(server, who)]
    kept = live_server[0].app.clicks.kept
    reads: list[str] = []

    def note_read(_connection, _cursor, statement: str, *_rest) -> None:  # type: ignore[no-untyped-def]
        if "edition_links" in statement:
            reads.append(statement)

    def all_at_once() -> set[int]:
        with ThreadPoolExecutor(8) as pool:
            return {answer.status_code for answer in pool.map(lambda link: follow(base, link), links * 2)}

    event.listen(sessions.kw["bind"], "before_cursor_execute", note_read)
    try:
        assert all_at_once() == {302} and len(reads) == 1  # the first readers waited for the one read
        [(variant, (when, held))] = kept.items()
        kept[variant] = (when - 6, held)  # due again: read once more, the readers answered meanwhile
        assert all_at_once() == {302}
        deadline = time.monotonic() + 10
        while kept[variant][0] < when and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(reads) == 2
        kept[variant] = (when - 60, held)  # long past: the readers wait for the read
        assert all_at_once() == {302} and len(reads) == 3
    finally:
        event.remove(sessions.kw["bind"], "before_cursor_execute", note_read)


def test_the_store_keeps_nothing_that_joins_a_click_to_a_reader(mailed) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = mailed
    readers = READERS
    mailed_links = [counted_links(server, who) for who in readers]
    for links in mailed_links:
        follow(base, links[0])
    wait_for_clicks(sessions, 3)
    nonces = {urlsplit(links[0]).path.split(".")[3] for links in mailed_links}
    message_ids = {server.to(who)[-1].message["Message-ID"] for who in readers}
    columns = {column["name"] for column in inspect(sessions.kw["bind"]).get_columns("link_clicks")}
    assert columns == {"id", "edition_id", "variant_id", "link", "reader", "at", "automatic"}
    with sessions() as session:
        subscriber_ids = {str(number) for number in session.scalars(select(Subscriber.id))}
        clicks = session.scalars(select(LinkClick)).all()
        for table in inspect(sessions.kw["bind"]).get_table_names():
            for row in session.execute(select(_table(sessions, table))):
                for value in row:
                    assert not any(nonce in str(value) for nonce in nonces), table
                    assert not any(str(value) == message_id for message_id in message_ids), table
    assert {click.reader for click in clicks}.isdisjoint(subscriber_ids) and len({c.reader for c in clicks}) == 3


def test_counting_ends_with_the_window_and_keeps_only_the_counts(mailed) -> None:  # type: ignore[no-untyped-def]
    base, _path, _config, sessions, server = mailed
    links = counted_links(server, "cn@example.org")
    follow(base, links[0])
    follow(base, links[0])
    wait_for_clicks(sessions, 2)
    with sessions() as session:
        edition = session.scalars(select(Edition)).one()
        before = edition_clicks(session, edition)
    assert close_counting(sessions, edition.created + timedelta(days=29)) == []
    [closed] = close_counting(sessions, edition.created + timedelta(days=30))
    with sessions() as session:
        edition = session.get(Edition, closed.id)
        assert edition is not None and edition.click_key is None and edition.counted is not None
        assert session.scalar(select(func.count()).select_from(LinkClick)) == 0
        after = edition_clicks(session, edition)
    assert {key: value for key, value in after.links.items() if value != Counted()} == before.links
    assert {key: value for key, value in after.variants.items() if value != Counted()} == before.variants
    assert sum(counted.readers for counted in after.variants.values()) == 1
    assert follow(base, links[0]).status_code == 302  # the link still leads on, uncounted
    time.sleep(1.5)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LinkClick)) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_digest_may_link_directly_and_tag_its_links_for_the_offices_analytics(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    from helpers import mail_config

    path = mail_config(tmp_path, db_url, mail_server)
    text = path.read_text("utf-8").replace("[[digests]]\n", '[[digests]]\ntrack_links = false\nutm_source = "digest"\n'
                                           'utm_campaign = "China weekly"\n', 1)
    path.write_text(text, "utf-8")
    _config, sessions = setup_store(path)
    assert " sent, 0 failed" in send_digest(path)
    mail = next(mail_server.to("cn@example.org")[-1].message.iter_parts()).get_content()
    assert "/r/" not in mail and "never who" not in mail  # (nothing counted: nothing said)
    site_links = re.findall(rf"{re.escape(SITE)}/\S*", mail)
    tagged = [link for link in site_links if "utm_source=digest&utm_campaign=China+weekly" in link]
    assert tagged and all("unsubscribe" not in link and "preferences" not in link for link in tagged)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(EditionLink)) == 0
        assert session.scalars(select(Edition.click_key)).one() is None


def test_a_changed_link_fails_its_check() -> None:
    signer = LinkSigner("a signing key for this test, long enough")
    mac = signer.mac_of(b"3.7.2.nonce")
    assert signer.check(f"3.7.2.nonce.{mac}") is not None
    for tail in (f"3.7.1.nonce.{mac}", f"3.8.2.nonce.{mac}", f"4.7.2.nonce.{mac}", f"3.7.2.nonc.{mac}",
                 "3.7.2.nonce", f"3.7.2.nonce.{mac}.x", f"-3.7.2.nonce.{mac}", f"3.7.2.nonce.{mac.lower()}"):
        assert signer.check(tail) is None and signer.signed(tail) is None, tail
    assert signer.signed(f"3.7.2.nonce.{mac}") == ["3", "7", "2", "nonce", mac]
    longer = "3.7.2." + "n" * 60  # longer than any value made: refused unhashed, signed or not
    assert signer.check(f"{longer}.{signer.mac_of(longer.encode())}") is None
    assert LinkSigner("another signing key for this test, long enough").check(f"3.7.2.nonce.{mac}") is None
    assert signer.check(f"a.7.2.nonce.{signer.mac_of(b'a.7.2.nonce')}") is None  # signed, but no id


def test_a_message_whose_every_link_was_followed_at_once_is_a_machine() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    at = [start + timedelta(seconds=s) for s in (0, 0.4, 1.1, 60)]
    clicks = [Seen(1, 1, "scanner", at[0], ""), Seen(1, 2, "scanner", at[1], ""), Seen(1, 3, "scanner", at[2], ""),
              Seen(1, 1, "reader", at[0], ""), Seen(1, 2, "reader", at[1], ""), Seen(1, 3, "reader", at[3], ""),
              Seen(1, 1, "head", at[0], "head")]
    figures = count_clicks(clicks, {1: {1, 2, 3}})
    counted = figures.links
    assert figures.variants[1] == Counted(clicks=3, readers=1, automatic=4)
    assert counted[(1, 1)] == Counted(clicks=1, readers=1, automatic=2)
    assert counted[(1, 3)] == Counted(clicks=1, readers=1, automatic=1)


def report(session: Session, edition: Edition) -> dict[tuple[int, int], Counted]:
    """Per (variant, link)."""
    return edition_clicks(session, edition).links


def variant_of(sessions: sessionmaker[Session], link: str) -> int:
    return int(urlsplit(link).path.split(".")[1])


def link_number(link: str) -> int:
    return int(urlsplit(link).path.split(".")[2])


def _ended(pid: str) -> bool:
    """Dead: not yet reaped, or reaped already (by the server, as its next hand-over finds the pipe
    closed: a race the test lost now and then when it looked only for the first)."""
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True


def _table(sessions: sessionmaker[Session], name: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import MetaData, Table

    return Table(name, MetaData(), autoload_with=sessions.kw["bind"])



@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL", "writer killed"])
def test_a_stopped_or_killed_server_loses_no_click(tmp_path, db_url, how) -> None:  # type: ignore[no-untyped-def]
    """`publisher serve` stopped right after 300 clicks has written every one of them; killed
    (kill -9) a moment after them, its writing process writes what it had been handed; with
    that process killed first, the server writes them itself."""
    import os
    import signal
    import subprocess
    import sys
    from email import message_from_bytes
    from email.policy import default

    from helpers import wait_until, write_config
    from mailserver import free_port

    path = write_config(tmp_path, db_url)  # no SMTP server: the digest goes to the outbox
    _config, sessions = setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")},
           "PUBLISHER_SECRET_KEY": "a signing key for this test, long enough"}
    sent = subprocess.run([sys.executable, "-m", "publisher", "--config", str(path), "digest", "send", "china-weekly"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "1 sent" in sent.stdout, sent.stdout + sent.stderr
    [mailed] = (tmp_path / "outbox" / "new").iterdir()
    message = message_from_bytes(mailed.read_bytes(), policy=default)
    links = COUNTED.findall(next(message.iter_parts()).get_content())
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "publisher", "--config", str(path), "serve", "--port", str(port)],
                              env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        if how == "writer killed":
            [writer] = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
            os.kill(int(writer), signal.SIGKILL)  # (it ignores SIGTERM)
            wait_until(lambda: _ended(writer))
        with httpx.Client(headers=BROWSER) as client:
            for n in range(300):
                assert client.get(local(links[n % len(links)], base)).status_code == 302
        if how == "SIGKILL":
            time.sleep(0.5)  # the clicks handed to the writing process (every 0.2 s), not yet written (every 1 s)
            server.kill()
            server.wait(timeout=20)
        else:
            server.send_signal(signal.SIGTERM)
            # uvicorn stops gracefully, then raises the signal again: the exit is SIGTERM's
            assert server.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()

    def recorded() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(LinkClick)) or 0

    if how == "SIGKILL":  # the writing process outlives the server until it has written
        wait_until(lambda: recorded() == 300, seconds=20)
    assert recorded() == 300


def the_console(base: str, sessions: sessionmaker[Session], *paths: str) -> list[httpx.Response]:
    """`paths` as an operator signed in to the console sees them."""
    from test_console import PASSWORD, sign_in

    from publisher.clock import utc_now
    from publisher.operators.accounts import add_operator

    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
    with httpx.Client(base_url=base, follow_redirects=False, timeout=20) as client:
        sign_in(client)
        answers = [client.get(path) for path in paths]
    assert all(answer.status_code == 200 for answer in answers)
    return answers


@SQLITE_ONLY
def test_counting_is_turned_off_and_links_tagged_from_the_console(web) -> None:  # type: ignore[no-untyped-def]
    from test_console import PASSWORD, csrf_of, sign_in
    from test_console_digests import FORM

    from publisher.clock import utc_now
    from publisher.operators.accounts import add_operator

    base, path, _config, sessions, server = web
    add_people(sessions)
    with sessions.begin() as session:
        add_operator(session, "press@example.org", PASSWORD, utc_now())
    with httpx.Client(base_url=base, follow_redirects=False, timeout=20) as client:
        sign_in(client)
        shipped = client.get("/admin/digests/china-weekly/settings")
        assert 'name="track_links" value="yes" checked' in shipped.text  # counted, as config.toml says
        values = {**FORM, "name": "china-weekly", "countries": ["CN"], "timezone": "Asia/Shanghai",
                  "first_edition_window": "3650d", "count_clicks_for": "30d", "utm_source": "newsletter"}
        saved = client.post("/admin/digests/china-weekly/settings", data={**values, "csrf": csrf_of(shipped)})
        assert saved.headers["location"].endswith("done=saved")
        assert 'name="track_links" value="yes" checked' not in client.get("/admin/digests/china-weekly/settings").text
    assert " sent, 0 failed" in send_digest(path)
    mail = next(server.to("cn@example.org")[-1].message.iter_parts()).get_content()
    assert "/r/" not in mail and f"{SITE}/feeds/cn/atom.xml?utm_source=newsletter" in mail


def test_the_trend_runs_from_the_oldest_edition_and_skips_those_not_counted() -> None:
    from publisher.web.console.charts import TREND_HEIGHT, rate_trend

    columns = rate_trend([(4, 0.1), (3, None), (2, 0.4), (1, 0.2)])
    assert [(column.label, column.x) for column in columns] == [("1", 0), ("2", 28), ("4", 56)]
    assert columns[1].height == TREND_HEIGHT - 14 and columns[0].height == columns[1].height / 2


@pytest.mark.slow
@SQLITE_ONLY
def test_readers_follow_links_in_chromium_and_the_operator_reads_the_report_on_a_phone(
        tmp_path, db_url, mail_server, live_server, browser) -> None:  # type: ignore[no-untyped-def]
    """Chromium follows readers' links as a browser does, to the page they lead to (the site's
    feeds, served here), twice for one reader; the edition's page, on a phone's screen, counts
    them and passes axe."""
    from helpers import mail_config, set_keys

    from publisher.web.app import create_app

    base = live_server[1]
    path = mail_config(tmp_path, db_url, mail_server)
    set_keys(path, "site", base_url=f'"{base}"')  # where the mail's links lead is served
    config, sessions = setup_store(path, {"cn@example.org": ("CN", "confirmed"),
                                          "second@example.org": ("CN", "confirmed")})
    live_server[0].app = create_app(config, sessions)
    recorder = live_server[0].app.clicks.recorder
    try:
        assert send_digest(path).endswith(" 2 sent, 0 failed\n")
        with sessions() as session:
            [(number, feeds)] = session.execute(select(EditionLink.number, EditionLink.target)
                                                .where(EditionLink.kind == "feeds")).all()
        cn, second = ([link for link in counted_links(mail_server, who) if link_number(link) == number]
                      for who in ("cn@example.org", "second@example.org"))
        assert len(cn) == len(second) == 1
        # A browser as readers use it (headless Chromium says so in its User-Agent: a crawler's).
        browser.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": BROWSER["User-Agent"]})
        for link in (*cn, *cn, *second):  # "all feeds", of the site's own
            browser.get(link)
            assert browser.current_url == feeds
        _report_on_a_phone(browser, base, sessions)
    finally:
        recorder.stop()
        live_server[0].app = None


def _report_on_a_phone(browser, base: str, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from test_console_browser import axe_violations, fits, sign_in_on_a_phone, wait_for_title

    wait_for_clicks(sessions, 3)
    sign_in_on_a_phone(browser, base, sessions, "/admin/digests/china-weekly/editions/1", "china-weekly 1")
    main = " ".join(browser.find_element(By.TAG_NAME, "main").text.split())
    assert "2 of 2 readers clicked a link (100.0%), 3 clicks; 0 set aside as automatic" in main
    assert max(bar.size["width"] for bar in browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")) > 100
    assert axe_violations(browser) == [] and fits(browser)
    browser.get(base + "/admin/digests")
    wait_for_title(browser, "Digests")
    assert "2 readers clicked (100.0%)" in browser.find_element(By.TAG_NAME, "main").text
    assert axe_violations(browser) == [] and fits(browser)


def test_clicks_the_database_cannot_take_wait_for_it_as_many_as_are_held(tmp_path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from publisher.store.db import make_engine
    from publisher.web import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "_MAX_NOTED", 3)
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every write fails
    recorder = recorder_module.ClickRecorder(sessionmaker(empty))
    note = recorder.noting()
    for link in range(5):
        note((time.time(), "1", "1", str(link), "nonce", "00" * 16, "GET", "a browser"))
    recorder.drain.flush()
    assert [click[3] for click in recorder.drain.items] == ["0", "1", "2"] and recorder.dropped == 2
    note((time.time(), "1", "1", "5", "nonce", "00" * 16, "GET", "a browser"))
    recorder.drain.flush()  # the oldest three kept, the newest set aside; those set aside before said
    assert [click[3] for click in recorder.drain.items] == ["0", "1", "2"] and recorder.dropped == 1
    assert "2 clicks were not counted: the database could not take them, and at most 3 are kept waiting for it; " \
           "trying 4 now" in caplog.text
