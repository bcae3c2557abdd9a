"""Digests through a real SMTP server: what arrives, to whom, how often, and what is recorded."""

from __future__ import annotations

import json
import re
from datetime import date
from email.headerregistry import HeaderRegistry
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner
from helpers import NOW, SEED, mail_config, set_keys, setup_store, sqlite_store, target_of
from mailserver import MailServer
from sqlalchemy import select

from publisher.cli import cli
from publisher.config import load_config
from publisher.dates import short_date_range
from publisher.jobs.imports import ImportRequest, import_files
from publisher.mail.transport import make_transport
from publisher.store.db import open_store
from publisher.store.models import Delivery, Edition, EditionVariant, Subscriber
from publisher.subscribers.keys import signing_key
from publisher.subscribers.people import (
    SubscriberRow,
    find_subscriber,
    save_subscribers,
)
from publisher.subscribers.tokens import Signer

EVIL = 'Workers\' <script>alert("x")</script> & "quotes" in China'



def cli_run(path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store(tmp_path: Path, db_url: str, mail_server: MailServer):  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server)
    config, sessions = setup_store(path)
    return path, config, sessions


def test_confirmed_followers_receive_one_complete_message_each(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    code, out, err = cli_run(path, "digest", "send", "china-weekly")
    assert code == 0, err
    assert out == "china-weekly edition 1: 19 releases, 2 sent, 0 failed\n"
    assert sorted(r.recipients[0] for r in mail_server.received) == ["Both@example.org", "cn@example.org"]
    ids = set()
    for received in mail_server.received:
        message = received.message
        assert received.sender == "beijing@ilo.org"
        assert message["From"] == "ILO Country Office for China and Mongolia <beijing@ilo.org>"
        assert message["To"] == received.recipients[0]
        assert message["Subject"].startswith("ILO China: 19 new releases (")
        assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
        assert message["List-Id"].endswith("<china-weekly.www.ilo.org>")
        # RFC 2919: the name is a phrase; its ':' needs the quotes for a parser to keep it whole.
        [listed] = HeaderRegistry()("To", message["List-Id"]).addresses  # read as an address header
        assert (listed.display_name, listed.addr_spec) == (
            "ILO Country Office for China and Mongolia: China", "china-weekly.www.ilo.org")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
        assert https.startswith("http://127.0.0.1:8080/unsubscribe?token=")
        assert mailto == "mailto:beijing@ilo.org?subject=unsubscribe"
        ids.add(message["Message-ID"])
        assert message.get_content_type() == "multipart/alternative"
        text_part, html_part = message.iter_parts()
        assert (text_part.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
        text, html = text_part.get_content(), html_part.get_content()
        assert received.recipients[0] in text and received.recipients[0] in html
        assert https in text and https.replace("&", "&amp;") in html
        token = https.split("token=")[1]
        with sessions() as session:
            subscriber = find_subscriber(session, received.recipients[0])
        assert subscriber is not None and Signer.subscriber_id(token) == subscriber.id
        Signer(signing_key(config.secrets)).verify("unsubscribe", token, subscriber.token_nonce)
        for link in re.findall(r'href="([^"]+)"', html):
            assert link.startswith(("http://127.0.0.1:8080/", "https://www.ilo.org/beijing"))
        counted = re.findall(r"http://127\.0\.0\.1:8080/r/\S+", text)
        assert "http://127.0.0.1:8080/feeds/cn/atom.xml" in {target_of(sessions, config, link) for link in counted}
        assert 'style="' in html  # CSS inlined
        assert "@media only screen and (max-width: 620px)" in html
    assert len(ids) == 2


def test_a_second_send_sends_nothing_and_new_releases_go_in_the_next_edition(
        store, mail_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = store
    assert cli_run(path, "digest", "send", "china-weekly")[0] == 0
    code, out, _ = cli_run(path, "digest", "send", "china-weekly")
    assert (code, out) == (0, "china-weekly: nothing new since the last edition\n")
    assert len(mail_server.received) == 2
    extra = tmp_path / "new.json"
    extra.write_text(json.dumps([{"title": EVIL, "published": "2026-11-20",
                                  "summary": "A <b>bold</b> claim & more"}]))
    import_files(sessions, config, [ImportRequest(str(extra))], NOW)
    code, out, _ = cli_run(path, "digest", "send", "china-weekly")
    assert out == "china-weekly edition 2: 1 release, 2 sent, 0 failed\n"
    latest = [r for r in mail_server.received if r.message["Message-ID"].startswith("<china-weekly.2.")]
    assert len(latest) == 2
    text_part, html_part = latest[0].message.iter_parts()
    text, html = text_part.get_content(), html_part.get_content()
    assert EVIL in text and "A <b>bold</b> claim & more" in text
    document = lxml.html.fromstring(html)
    assert document.xpath("//script") == [] and document.xpath("//b") == []
    shown = [" ".join(node.text_content().split()) for node in document.xpath("//h2/a | //p")]
    assert EVIL in shown and "A <b>bold</b> claim & more" in shown
    assert "Seminar on digital transformation" not in text  # only what is new
    subject = latest[0].message["Subject"]
    assert subject == "ILO China: 1 new release (20 Nov 2026)"


@pytest.mark.parametrize(("first", "last", "shown"), [
    (date(2022, 6, 16), date(2022, 6, 16), "16 Jun 2022"),
    (date(2022, 6, 16), date(2022, 6, 28), "16 Jun – 28 Jun 2022"),
    (date(2021, 6, 28), date(2022, 6, 16), "28 Jun 2021 – 16 Jun 2022"),
])
def test_date_ranges_read_forwards_with_their_years(first: date, last: date, shown: str) -> None:
    assert short_date_range(first, last) == shown


def test_the_first_edition_subject_names_both_years(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _, _ = store
    cli_run(path, "digest", "send", "china-weekly")
    message = mail_server.received[0].message
    assert message["Subject"] == "ILO China: 19 new releases (28 Jun 2021 – 16 Jun 2022)"
    text, html = (part.get_content() for part in message.iter_parts())
    shown = " ".join(lxml.html.fromstring(html).text_content().split())
    assert "China feed (all feeds)." in shown
    assert "Image:" not in shown and "Image:" not in text  # no image is shown, so no credit line


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_temporary_failure_is_retried_and_delivered_once(store, mail_server, pipelining) -> None:  # type: ignore[no-untyped-def]
    path, _, sessions = store
    mail_server.pipelining = pipelining
    mail_server.decide = lambda address, attempt: (
        "451 4.3.0 try again later" if address == "cn@example.org" and attempt < 3 else None)
    _code, out, _ = cli_run(path, "digest", "send", "china-weekly")
    assert out == "china-weekly edition 1: 19 releases, 2 sent, 0 failed\n"
    assert len(mail_server.to("cn@example.org")) == 1
    with sessions() as session:
        rows = session.execute(select(Subscriber.email, Delivery.status, Delivery.attempts)
                               .join(Delivery, Delivery.subscriber_id == Subscriber.id)).all()
    assert sorted(map(tuple, rows)) == [("Both@example.org", "sent", 1), ("cn@example.org", "sent", 3)]


def test_a_permanent_failure_is_recorded_and_the_run_goes_on(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _, sessions = store
    mail_server.decide = lambda address, _attempt: (
        "550 5.1.1 mailbox unavailable" if address == "cn@example.org" else None)
    _code, out, _ = cli_run(path, "digest", "send", "china-weekly")
    assert out == "china-weekly edition 1: 19 releases, 1 sent, 1 failed\n"
    with sessions() as session:
        failed = session.scalars(select(Delivery).where(Delivery.status == "failed")).one()
        edition = session.scalars(select(Edition)).one()
    assert failed.reply == "550 5.1.1 mailbox unavailable" and failed.attempts == 1
    assert edition.status == "complete"


def test_a_recipient_refused_at_rcpt_fails_and_the_connection_goes_on(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _, sessions = store
    mail_server.refuse_rcpt = lambda address: (
        "550 5.1.1 no such user" if address == "Both@example.org" else None)
    _code, out, _ = cli_run(path, "digest", "send", "china-weekly")
    assert out == "china-weekly edition 1: 19 releases, 1 sent, 1 failed\n"
    assert [r.recipients for r in mail_server.received] == [["cn@example.org"]]
    with sessions() as session:
        assert session.scalar(select(Delivery.reply).where(Delivery.status == "failed")) == \
            "550 5.1.1 no such user"


@pytest.mark.parametrize("pipelining", [True, False])
def test_lines_starting_with_a_dot_arrive_intact(tmp_path, db_url, mail_server, pipelining) -> None:  # type: ignore[no-untyped-def]
    mail_server.pipelining = pipelining
    path = mail_config(tmp_path, db_url, mail_server)
    config, sessions = setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    assert cli_run(path, "digest", "send", "china-weekly")[0] == 0
    extra = tmp_path / "dots.json"
    extra.write_text(json.dumps([{"title": "China news", "published": "2026-11-20",
                                  "summary": ".starts with a dot\n.\n..two"}]))
    import_files(sessions, config, [ImportRequest(str(extra))], NOW)
    assert cli_run(path, "digest", "send", "china-weekly")[0] == 0
    text_part = next(mail_server.received[-1].message.iter_parts())
    assert "\n.starts with a dot\n.\n..two\n" in text_part.get_content().replace("\r\n", "\n")


def test_giving_up_after_max_attempts(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server, max_attempts="2")
    setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    mail_server.decide = lambda _address, _attempt: "451 4.7.0 busy"
    _code, out, _ = cli_run(path, "digest", "send", "china-weekly")
    assert out == "china-weekly edition 1: 19 releases, 0 sent, 1 failed\n"
    assert mail_server.attempts == {"cn@example.org": 2}


def test_dry_run_and_test_copy_record_nothing(store, mail_server) -> None:  # type: ignore[no-untyped-def]
    path, _, sessions = store
    code, out, _ = cli_run(path, "digest", "send", "china-weekly", "--dry-run")
    assert out == ("china-weekly edition 1: would send 19 releases to 2 readers in 1 variant "
                   "(dry run, nothing sent)\n")
    code, out, _ = cli_run(path, "digest", "send", "china-weekly", "--to", "editor@example.org")
    assert code == 0 and out.startswith(
        "china-weekly: test copy of edition 1 (CN, 19 releases) sent to editor@example.org (250")
    assert [r.recipients for r in mail_server.received] == [["editor@example.org"]]
    with sessions() as session:
        assert session.scalars(select(Edition)).all() == []
    assert cli_run(path, "digest", "send", "china-weekly")[1].endswith("2 sent, 0 failed\n")


def test_preview_writes_html_text_and_eml(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, _, sessions = store
    out_dir = tmp_path / "preview"
    code, out, _ = cli_run(path, "digest", "preview", "mongolia-monthly", "--out", str(out_dir))
    assert code == 0 and out.startswith("wrote ")
    html = (out_dir / "mongolia-monthly.html").read_text()
    assert "Social Protection Diagnostic Review" in html and "subscriber@example.org" in html
    assert "PUBLISHER-MARK" not in html
    assert b"List-Unsubscribe-Post" in (out_dir / "mongolia-monthly.eml").read_bytes()
    with sessions() as session:
        assert session.scalars(select(Edition)).all() == []


def test_the_outbox_when_no_smtp_server_is_configured(tmp_path, db_url) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, None)
    config, _sessions = setup_store(path)
    _code, out, _ = cli_run(path, "digest", "send", "china-weekly")
    assert out == "china-weekly edition 1: 19 releases, 2 sent, 0 failed\n"
    stored = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(stored) == 2
    import email
    import email.policy

    message = email.message_from_bytes(stored[0].read_bytes(), policy=email.policy.default)
    assert message["Subject"].startswith("ILO China: 19 new releases")
    assert b"\r" not in stored[0].read_bytes()  # a file on disk: the system's line ends
    # Storing the same message again (a resumed edition) does not duplicate it.
    transport = make_transport(config.smtp, config.mail.outbox).connect()
    reply = transport.send("beijing@ilo.org", "cn@example.org", stored[0].read_bytes(),
                           message["Message-ID"])
    assert reply.text.startswith("already in the outbox") and len(list(stored[0].parent.iterdir())) == 2


def test_unknown_digest_is_a_clear_error(store) -> None:  # type: ignore[no-untyped-def]
    path, _, _ = store
    code, _, err = cli_run(path, "digest", "send", "weekly")
    assert code == 1 and "no digest named 'weekly' (there are: " in err


def test_dkim_signature_covers_the_list_headers_and_verifies(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    import base64
    import subprocess

    import dkim

    key = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, check=True).stdout
    public = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=key,
                            capture_output=True, check=True).stdout
    path = mail_config(tmp_path, db_url, mail_server)
    set_keys(path, "mail", dkim_domain='"ilo.org"', dkim_selector='"news"')
    config = load_config(path, environ={})
    sessions = open_store(config)
    import_files(sessions, config, [ImportRequest(str(SEED))], NOW)
    with sessions.begin() as session:
        save_subscribers(session, [SubscriberRow("cn@example.org", ("CN",))], "confirmed", NOW)
    result = CliRunner().invoke(cli, ["--config", str(path), "digest", "send", "china-weekly"],
                                env={"PUBLISHER_DKIM_KEY": key.decode()})
    assert result.exit_code == 0, result.stderr
    [received] = mail_server.received
    signature = received.message["DKIM-Signature"]
    headers = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", ""))
    assert headers is not None
    signed = {h.strip().lower() for h in headers.group(1).split(":")}
    assert {"from", "to", "subject", "list-id", "list-unsubscribe", "list-unsubscribe-post"} <= signed
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"news._domainkey.ilo.org."
        return record

    assert dkim.verify(received.data, dnsfunc=dns)
    assert not dkim.verify(received.data.replace(b"Subject: ILO", b"Subject: XYZ"), dnsfunc=dns)


def test_more_waiting_than_max_items_says_how_many_and_moves_past_them(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server)
    set_keys(path, "digests", max_items="5")
    config, sessions = setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    assert cli_run(path, "digest", "send", "china-weekly")[1] == \
        "china-weekly edition 1: 19 releases, 1 sent, 0 failed\n"
    text_part, html_part = mail_server.received[0].message.iter_parts()
    text = text_part.get_content().replace("\r\n", "\n")
    page = "http://127.0.0.1:8080/digests/china-weekly/1?countries=CN"
    # One count: the subject and the heading count all it carries, the body says what it leaves out.
    assert mail_server.received[0].message["Subject"].startswith("ILO China: 19 new releases (")
    assert text.splitlines()[1].startswith("19 new releases · ")
    more = re.search(r"And 14 more new releases\. Read them all:\n(\S+)\n", text).group(1)  # type: ignore[union-attr]
    assert target_of(sessions, config, more) == page
    feed = re.search(r"China feed: (\S+)", text).group(1)  # type: ignore[union-attr]
    assert target_of(sessions, config, feed) == "http://127.0.0.1:8080/feeds/cn/atom.xml"
    html = " ".join(html_part.get_content().split())
    assert f'And 14 more new releases:</strong> <a href="{more}"' in html  # (one message: the same link)
    with sessions() as session:
        edition = session.scalars(select(Edition)).one()
        variant = session.scalars(select(EditionVariant)).one()
    assert (edition.release_count, variant.release_count, variant.more_count) == (19, 5, 14)
    assert cli_run(path, "digest", "send", "china-weekly")[1] == \
        "china-weekly: nothing new since the last edition\n"


def test_an_operators_template_folder_wins_over_the_shipped_templates(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    own = tmp_path / "my-templates"
    own.mkdir()
    (own / "digest.txt").write_text(
        "Our own words: {{ releases|length }} releases for {{ recipient }}.\n"
        "Leave: {{ unsubscribe_url }}\n", "utf-8")
    path = mail_config(tmp_path, db_url, mail_server)
    set_keys(path, "mail", templates='"my-templates"')
    setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    assert cli_run(path, "digest", "send", "china-weekly")[0] == 0
    text_part, html_part = mail_server.received[0].message.iter_parts()
    text = text_part.get_content().replace("\r\n", "\n")
    assert text.startswith("Our own words: 19 releases for cn@example.org.\nLeave: http://127.0.0.1:8080/unsubscribe?token=")
    assert "ILO supports inclusion" in html_part.get_content()  # the shipped digest.html


def test_a_template_naming_an_unknown_value_is_a_clear_error(tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    own = tmp_path / "my-templates"
    own.mkdir()
    (own / "digest.txt").write_text("Hello {{ reader_name }}\n", "utf-8")
    path = mail_config(tmp_path, db_url, mail_server)
    set_keys(path, "mail", templates='"my-templates"')
    _, sessions = setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    code, _, err = cli_run(path, "digest", "send", "china-weekly")
    assert code == 1 and "template digest.txt: 'reader_name' is undefined" in err
    with sessions() as session:
        assert session.scalars(select(Edition)).all() == []


def test_a_digest_with_pictures_shows_each_releases_picture_linked_and_sized_for_mail(tmp_path, mail_server) -> None:  # type: ignore[no-untyped-def]
    from helpers import add_releases, set_keys
    from lxml import html as lxml_html

    path = mail_config(tmp_path, sqlite_store(tmp_path), mail_server)
    set_keys(path, "digests", pictures="true")  # china-weekly's; mongolia-monthly keeps the default
    config, sessions = setup_store(path)
    add_releases(sessions, config, tmp_path,
                 {"title": "Green jobs in China", "published": "2026-11-20", "image_url": "https://www.ilo.org/green.jpg"},
                 {"title": "A picture over http in China", "published": "2026-11-19", "image_url": "http://www.ilo.org/p.jpg"},
                 {"title": "Herders in Mongolia", "published": "2026-11-18", "image_url": "https://www.ilo.org/mn.jpg"})
    for digest in ("china-weekly", "mongolia-monthly"):
        assert cli_run(path, "digest", "send", digest)[0] == 0
    text_part, html_part = mail_server.to("cn@example.org")[-1].message.iter_parts()
    page = lxml_html.fromstring(html_part.get_content())
    [picture] = page.xpath("//img[contains(@src, 'www.ilo.org')]")
    assert (picture.get("src"), picture.get("alt"), picture.get("width")) == (
        "https://www.ilo.org/green.jpg", "Green jobs in China", "552")
    assert "max-width" in picture.get("style", "") and "height:auto" in picture.get("style", "").replace(" ", "")
    title_link = page.xpath("//h2/a[. = 'Green jobs in China']/@href")[0]
    assert picture.getparent().tag == "a" and picture.getparent().get("href") == title_link  # one link, counted once
    assert "p.jpg" not in html_part.get_content() and "green.jpg" not in text_part.get_content()
    monthly = mail_server.to("mn@example.org")[-1].message
    assert "mn.jpg" not in monthly.as_string()  # pictures are off unless a digest asks for them
