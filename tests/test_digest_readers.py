"""Each reader's digest is right for them: their countries, only news, a Message-ID no mailbox
has seen, test copies that say so. Real aiosmtpd, real SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from datetime import UTC, datetime, timedelta
from email.headerregistry import HeaderRegistry
from pathlib import Path

import httpx
import lxml.html
import pytest
from click.testing import CliRunner
from helpers import (
    add_releases,
    local,
    mail_config,
    open_link,
    set_keys,
    setup_store,
    start_run,
    stop,
    wait_until,
    write_config,
)
from mailserver import MailServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.store.models import Edition, EditionVariant, Release, ReleaseCountry
from publisher.web.app import create_app

READERS = {"cn@example.org": ("CN", "confirmed"), "mn@example.org": ("MN", "confirmed"),
           "both@example.org": ("CN MN", "confirmed")}
FOOTERS = {"cn@example.org": "China", "mn@example.org": "Mongolia",
           "both@example.org": "China and Mongolia"}


def cli_run(path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(path), *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def titles_of(message) -> list[str]:  # type: ignore[no-untyped-def]
    html = list(message.iter_parts())[1].get_content()
    return [" ".join(link.text_content().split())
            for link in lxml.html.fromstring(html).cssselect(".item-title a")]


def text_of(message) -> str:  # type: ignore[no-untyped-def]
    return " ".join(next(message.iter_parts()).get_content().split())


def tagged(sessions: sessionmaker[Session], *countries: str) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Release.title).join(ReleaseCountry).where(
            ReleaseCountry.country_code.in_(countries))))


@pytest.fixture
def both_digest(tmp_path: Path, db_url: str, mail_server: MailServer):  # type: ignore[no-untyped-def]
    """china-weekly made a digest of China and Mongolia, with room for every seed release."""
    path = mail_config(tmp_path, db_url, mail_server)
    set_keys(path, "digests", countries='["CN", "MN"]', max_items="50")
    config, sessions = setup_store(path, READERS)
    return path, config, sessions


def test_each_reader_gets_the_releases_of_their_own_countries(both_digest, mail_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = both_digest
    dry = cli_run(path, "digest", "send", "china-weekly", "--dry-run")
    assert dry.startswith("china-weekly edition 1: would send 20 releases to 3 readers in 3 variants")
    assert cli_run(path, "digest", "send", "china-weekly").endswith("3 sent, 0 failed\n")
    expected = {"cn@example.org": tagged(sessions, "CN"), "mn@example.org": tagged(sessions, "MN"),
                "both@example.org": tagged(sessions, "CN", "MN")}
    assert expected["cn@example.org"] != expected["mn@example.org"]
    for address, titles in expected.items():
        [received] = mail_server.to(address)
        message = received.message
        assert sorted(titles_of(message)) == sorted(titles)
        assert message["Subject"].startswith(f"ILO China: {len(titles)} new release")
        assert (f"subscribed to news from the ILO Country Office for China and Mongolia about "
                f"{FOOTERS[address]}.") in text_of(message)
    with sessions() as session:
        variants = session.scalars(select(EditionVariant.countries)).all()
    assert sorted(variants) == ["CN", "CN MN", "MN"]

    # News of China only: the Mongolia reader gets nothing, and the dry run says so.
    add_releases(sessions, config, tmp_path, {"title": "China today", "countries": ["CN"],
                                             "published": datetime.now(UTC).isoformat()})
    assert cli_run(path, "digest", "send", "china-weekly", "--dry-run") == (
        "china-weekly edition 2: would send 1 release to 2 readers in 2 variants; 1 reader with "
        "nothing new for their countries (dry run, nothing sent)\n")
    assert cli_run(path, "digest", "send", "china-weekly") == \
        "china-weekly edition 2: 1 release, 2 sent, 0 failed\n"
    assert len(mail_server.to("mn@example.org")) == 1
    for address in ("cn@example.org", "both@example.org"):
        latest = mail_server.to(address)[-1].message
        assert titles_of(latest) == ["China today"]
        assert latest["Subject"].startswith("ILO China: 1 new release (")


def test_an_archive_imported_after_an_edition_is_never_mailed(both_digest, mail_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, config, sessions = both_digest
    cli_run(path, "digest", "send", "china-weekly")
    mailed = len(mail_server.received)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    add_releases(sessions, config, tmp_path,
                 {"title": "Decent work in 2015", "published": "2015-10-30", "countries": ["CN"]},
                 {"title": "Mongolia in 2015", "published": "2015-12-03", "countries": ["MN"]},
                 {"title": "Published yesterday, imported late", "published": yesterday,
                  "countries": ["MN"]})
    dry = cli_run(path, "digest", "send", "china-weekly", "--dry-run")
    assert dry.startswith("china-weekly edition 2: would send 1 release to 2 readers in 2 variants; "
                          "1 reader with nothing new for their countries; 2 releases left out, "
                          "published before ")
    assert "(edition 1's period began " in dry
    assert cli_run(path, "digest", "send", "china-weekly").endswith("2 sent, 0 failed\n")
    late = [received.message for received in mail_server.received[mailed:]]
    assert [titles_of(message) for message in late] == [["Published yesterday, imported late"]] * 2
    again = cli_run(path, "digest", "send", "china-weekly")
    assert re.fullmatch(r"china-weekly: nothing new since the last edition; 2 releases left out, "
                        r"published before (\d\d \w+ 20\d\d) \(edition 2's period began \1\)\n",
                        again), again
    assert len(mail_server.received) == mailed + 2


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the rule is SQL-agnostic; seconds count
def test_a_fresh_install_mails_no_back_catalogue_until_told_where_to_start(
        tmp_path: Path, db_url: str, mail_server: MailServer) -> None:
    path = write_config(tmp_path, db_url, first_edition_window=None)  # the shipped 14 days
    set_keys(path, "smtp", host=f'"{mail_server.host}"', port=str(mail_server.port), security='"none"')
    set_keys(path, "digests", cron='"* * * * *"')
    _, sessions = setup_store(path, READERS)
    dry = cli_run(path, "digest", "send", "china-weekly", "--dry-run")
    assert re.fullmatch(r"china-weekly edition 1: would be silent \(no release published since "
                        r"(\d\d \w+ 20\d\d)\); 19 releases left out, published before \1 \(a first "
                        r"edition carries the last 14 days\) \(dry run, nothing sent\)\n", dry), dry

    def editions() -> list[tuple[int, int, str]]:
        with sessions() as session:
            return [tuple(row) for row in session.execute(  # type: ignore[misc]
                select(Edition.number, Edition.release_count, Edition.status)
                .where(Edition.digest == "china-weekly").order_by(Edition.number))]

    scheduler = start_run(path, tmp_path / "run.log", fast_fire=True)
    try:
        wait_until(lambda: editions() == [(1, 0, "complete")])
        assert mail_server.received == []  # a silent first edition
        assert cli_run(path, "digest", "start", "china-weekly", "--from", "2021-01-01") == (
            "china-weekly: the next edition carries releases published from 01 January 2021 "
            "(2021-01-01 00:00 CST) on\n")
        wait_until(lambda: editions()[-1:] == [(2, 19, "complete")])
    finally:
        assert stop(scheduler) == 0
    assert sorted(r.recipients[0] for r in mail_server.received) == ["both@example.org", "cn@example.org"]
    assert [number for number, *_ in editions()] == [1, 2]


def test_message_ids_differ_between_two_databases_with_the_same_config(
        tmp_path: Path, mail_server: MailServer) -> None:
    ids = []
    for name in ("first", "second"):  # the same config; the database made afresh
        folder = tmp_path / name
        folder.mkdir()
        path = mail_config(folder, f"sqlite:///{tmp_path / 'store.db'}", mail_server)
        setup_store(path, READERS)
        cli_run(path, "digest", "send", "china-weekly")
        ids.append({received.message["Message-ID"] for received in mail_server.received[-2:]})
        (tmp_path / "store.db").unlink()
    assert len(ids[0]) == len(ids[1]) == 2 and not ids[0] & ids[1]
    for message_id in ids[0] | ids[1]:
        assert re.fullmatch(r"<china-weekly\.1\.\d+\.[0-9a-f]{16}@www\.ilo\.org>", message_id)


def test_test_copies_land_in_the_outbox_every_time_marked_as_tests(tmp_path: Path, db_url: str) -> None:
    path = mail_config(tmp_path, db_url, None)  # no SMTP server: the Maildir outbox
    setup_store(path, READERS)
    for _ in range(2):
        said = cli_run(path, "digest", "send", "china-weekly", "--to", "editor@example.org")
        assert re.fullmatch(r"china-weekly: test copy of edition 1 \(CN, 19 releases\) sent to "
                            r"editor@example.org \(250 .*\)\n", said), said
    outbox = mailbox.Maildir(tmp_path / "outbox", create=False)
    messages = [email.message_from_bytes(outbox.get_bytes(key), policy=email.policy.default)
                for key in outbox.iterkeys()]
    assert len(messages) == 2
    assert [message["Subject"].startswith("[Test] ILO China: 19 new releases (") for message in messages] == [True] * 2
    assert len({message["Message-ID"] for message in messages}) == 2
    for message in messages:  # every header parses, and the list's name survives
        registry = HeaderRegistry()
        for name, value in message.items():
            registry(name, value)
        [listed] = registry("To", message["List-Id"]).addresses
        assert listed.display_name == "ILO Country Office for China and Mongolia: China"
    refused = CliRunner().invoke(cli, ["--config", str(path), "digest", "send", "china-weekly",
                                       "--to", "editor@example.org", "--countries", "MN"])
    assert refused.exit_code == 2
    assert "MN: not a country of digest china-weekly (CN)" in refused.stderr


def test_a_test_copys_links_and_the_page_of_what_did_not_fit(
        tmp_path: Path, db_url: str, mail_server: MailServer, live_server) -> None:  # type: ignore[no-untyped-def]
    path = mail_config(tmp_path, db_url, mail_server)
    set_keys(path, "digests", max_items="5")
    config, sessions = setup_store(path, {"cn@example.org": ("CN", "confirmed")})
    live_server[0].app = create_app(config, sessions)
    base = live_server[1]
    try:
        cli_run(path, "digest", "send", "china-weekly", "--to", "editor@example.org")
        test_copy = next(mail_server.received[0].message.iter_parts()).get_content()
        for purpose in ("preferences", "unsubscribe"):
            link = re.search(rf"(https?://\S+/{purpose}\?token=\S+)", test_copy).group(1)  # type: ignore[union-attr]
            page = httpx.get(local(link, base))
            assert page.status_code == 200 and "A test copy" in page.text, page.text
        one_click = httpx.post(local(link, base), content=b"List-Unsubscribe=One-Click",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert one_click.status_code == 200 and "nothing was changed" in one_click.text

        cli_run(path, "digest", "send", "china-weekly")
        mailed = mail_server.to("cn@example.org")[0].message
        text = next(mailed.iter_parts()).get_content().replace("\r\n", "\n")
        link = re.search(r"And 14 more new releases\. Read them all:\n(\S+)\n", text).group(1)  # type: ignore[union-attr]
        page = open_link(link, base)
        assert page.status_code == 200
        listed = [" ".join(a.text_content().split())
              for a in lxml.html.fromstring(page.text).cssselect(".item-title a")]
        assert len(listed) == 19 and set(titles_of(mailed)) < set(listed)
        assert sorted(listed) == sorted(tagged(sessions, "CN"))
        assert "cn@example.org" not in page.text  # no reader's address on a public page
    finally:
        live_server[0].app = None
