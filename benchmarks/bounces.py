"""Bounce benchmark: 10,000 bounce messages, each for another subscriber, in the formats of the
test corpus in turn (Postfix, Exchange, Exim, qmail, Sendmail DSNs, a Gmail soft bounce, a
Yahoo ARF complaint), on SQLite.

    .venv/bin/python benchmarks/bounces.py [--messages 10000] [--pipe 30]

Every figure is one child process: its wall time and its peak memory (RSS, from wait4), each
beside a baseline measured in the same run that does the least such a command must do:
- `publisher bounces fetch` from a Maildir; baseline: the same messages read and moved into a
  subfolder by the standard library's mailbox module, nothing applied.
- `publisher bounces fetch` over IMAP from Dovecot (when installed, as tests/imapserver.py
  starts it); baseline: the same messages fetched and moved by the same IMAP client, nothing
  applied.
- What `publisher bounces read` does for one message, over all of them in one process;
  baseline: each message parsed by the standard library's email package and one row committed
  per message into the same database.
- `publisher bounces read` as an MTA's pipe runs it: a process per message, on --pipe of them.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import measure

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "bounces"
FORMATS = ["postfix-dsn.eml", "exchange-dsn.eml", "exim-text.eml", "qmail-latin1.eml",
           "sendmail-dsn.eml", "gmail-soft-dsn.eml", "yahoo-arf.eml"]
KEY_ENV = {"PUBLISHER_SECRET_KEY": "bench-signing-key-0123456789abcdef"}


def write_config(folder: Path, imap_port: int = 0, ca_file: str = "", imap_folder: str = "INBOX") -> Path:
    path = folder / "config.toml"
    path.write_text(f"""\
[site]
name = "Bench office"
base_url = "https://bench.example.org"
[database]
url = "sqlite:///{folder / 'store.db'}"
[[countries]]
code = "CN"
name = "China"
timezone = "Asia/Shanghai"
[mail]
sender = "Bench office <news@bench.example.org>"
bounce_address = "bounces@bench.example.org"
[bounces]
maildir = "{'' if imap_port else folder / 'maildir'}"
[bounces.imap]
host = "{'127.0.0.1' if imap_port else ''}"
port = {imap_port or 993}
ca_file = "{ca_file}"
folder = "{imap_folder}"
handled_folder = "{imap_folder}-done"
""", "utf-8")
    return path


def prepare_template(folder: Path, count: int) -> None:
    """A migrated store with `count` confirmed subscribers, and one bounce file per subscriber
    addressed to its signed VERP return path."""
    from sqlalchemy import insert

    from publisher.config import load_config
    from publisher.store.db import open_store
    from publisher.store.models import Delivery, Edition, EditionVariant, Subscriber
    from publisher.subscribers.tokens import Signer
    from publisher.subscribers.verp import verp_address

    config = load_config(write_config(folder), environ=KEY_ENV)
    sessions, now = open_store(config), datetime.now(UTC)
    with sessions.begin() as session:
        session.execute(insert(Subscriber), [
            {"id": i, "email": f"reader{i}@example.org", "email_key": f"reader{i}@example.org",
             "status": "confirmed", "status_since": now, "created": now} for i in range(1, count + 1)])
        # A bounce is about a delivery: one edition went to every reader.
        session.add(Edition(id=1, digest="bench", number=1, period="bench", status="complete", created=now,
                            since=now, release_count=1, more_count=0, subject="Bench"))
        session.add(EditionVariant(id=1, edition_id=1, countries="CN", release_count=1, more_count=0,
                                   subject="Bench", html="", text=""))
        session.flush()
        session.execute(insert(Delivery), [{"edition_id": 1, "subscriber_id": i, "variant_id": 1, "status": "sent"}
                                           for i in range(1, count + 1)])
    sessions.kw["bind"].dispose()
    verp = verp_address(config.mail.bounce_address, Signer(KEY_ENV["PUBLISHER_SECRET_KEY"]), 1)
    templates = [(CORPUS / name).read_bytes() for name in FORMATS]
    (folder / "messages").mkdir()
    for i in range(1, count + 1):
        raw = templates[i % len(templates)].replace(b"@@VERP@@", verp(i).encode()).replace(
            b"@@RCPT@@", f"reader{i}@example.org".encode())
        head, _, body = raw.partition(b"\n\n")
        head = re.sub(rb"(?mi)^Message-Id:[^\n]*\n?", b"", head)  # each bounce a message of its own
        (folder / "messages" / f"{i:06d}.eml").write_bytes(
            b"Message-ID: <bench-%d@mx.example.net>\n" % i + head + b"\n\n" + body)


def fresh_copy(template: Path, folder: Path, imap_port: int = 0, ca_file: str = "",
               imap_folder: str = "INBOX") -> Path:
    """A copy of the template store beside its own config (and an empty Maildir)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    shutil.copyfile(template / "store.db", folder / "store.db")
    mailbox.Maildir(folder / "maildir", create=True)
    return write_config(folder, imap_port, ca_file, imap_folder)


def messages(template: Path) -> Iterator[bytes]:
    for path in sorted((template / "messages").iterdir()):
        yield path.read_bytes()


def publisher(config: Path, *args: str) -> list[str]:
    return ["publisher", "--config", str(config), *args]


def run_child(args: list[str], env: dict[str, str] | None = None,
              stdin: bytes | None = None) -> tuple[float, float, str]:
    return measure.run_child(args, {**KEY_ENV, **(env or {})}, stdin)


def child(*args: str) -> list[str]:
    return [__file__, "--child", *args]


# --- children: each measured alone -------------------------------------------------------------

def child_take(config_path: str, template: str) -> dict[str, int]:
    """What `bounces read` does with one message, for every message, in one process."""
    from publisher.config import load_config
    from publisher.jobs.bounces import read_message
    from publisher.store.db import open_store

    config = load_config(Path(config_path))
    sessions, now = open_store(config), datetime.now(UTC)
    applied = sum(read_message(sessions, config, raw, "pipe", now).applied for raw in messages(Path(template)))
    return {"applied": applied}


def child_prepare(template: str, count: str) -> dict[str, int]:
    prepare_template(Path(template), int(count))
    return {"subscribers": int(count)}


def child_baseline_take(config_path: str, template: str) -> dict[str, int]:
    """Each message parsed by the email package's lenient parser (every part walked) and one
    row committed, in a transaction of its own."""
    import email
    import email.policy

    from sqlalchemy import text

    from publisher.config import load_config
    from publisher.store.db import make_engine

    engine = make_engine(load_config(Path(config_path)).database.url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE seen (message_id VARCHAR(500) PRIMARY KEY)"))
    count = 0
    for raw in messages(Path(template)):
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        parts = sum(1 for _ in message.walk())
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO seen VALUES (:id)"), {"id": str(message["Message-ID"])})
        count += parts > 0
    return {"applied": count}


def child_baseline_maildir(folder: str) -> dict[str, int]:
    box = mailbox.Maildir(folder, create=False)
    handled, count = box.add_folder("handled"), 0
    for key in list(box.iterkeys()):
        handled.add(box.get_bytes(key))
        box.discard(key)
        count += 1
    return {"moved": count}


def child_baseline_imap(config_path: str) -> dict[str, int]:
    from publisher.config import load_config
    from publisher.mail.imap import ImapMailbox

    imap, count = load_config(Path(config_path)).bounces.imap, 0
    with ImapMailbox(imap) as box:
        uids = [uid for uid, _size in box.sizes()]
        for start in range(0, len(uids), 200):
            batch = [uid for uid, raw in box.messages(uids[start:start + 200], 4_000_001) if raw]
            box.move(batch, imap.handled_folder)
            count += len(batch)
    return {"moved": count}


CHILDREN = {"prepare": child_prepare, "take": child_take, "baseline-take": child_baseline_take,
            "baseline-maildir": child_baseline_maildir, "baseline-imap": child_baseline_imap}


# --- the run --------------------------------------------------------------------------------

def row(what: str, count: int, seconds: float, peak_mb: float, baseline: float | None = None) -> None:
    rate = count / seconds
    ratio = f"  {rate / baseline:5.2f}x baseline" if baseline else ""
    print(f"  {what:<34} {rate:>9,.0f} msg/s {seconds:>7.2f} s {peak_mb:>6.1f} MB{ratio}")


def pair(label: str, count: int, ours: tuple[float, float, str], base: tuple[float, float, str]) -> None:
    print(f"{label}:")
    row("baseline", count, base[0], base[1])
    row("publisher", count, ours[0], ours[1], count / base[0])
    print(f"    publisher said: {ours[2].strip().splitlines()[-1]}")


def bench_maildir(template: Path, work: Path, count: int) -> None:
    runs = []
    for name in ("maildir-base", "maildir-ours"):
        config = fresh_copy(template, work / name)
        box = mailbox.Maildir(work / name / "maildir", create=False)
        for raw in messages(template):
            box.add(raw)
        runs.append(run_child(child("baseline-maildir", str(work / name / "maildir")) if name.endswith("base")
                              else publisher(config, "bounces", "fetch")))
    pair("bounces fetch, Maildir", count, runs[1], runs[0])


def bench_take(template: Path, work: Path, count: int) -> None:
    base = run_child(child("baseline-take", str(fresh_copy(template, work / "take-base")), str(template)))
    ours = run_child(child("take", str(fresh_copy(template, work / "take-ours")), str(template)))
    pair("bounces read's work, every message in one process", count, ours, base)


def bench_pipe(template: Path, work: Path, count: int) -> None:
    config = fresh_copy(template, work / "pipe")
    runs = [run_child(publisher(config, "bounces", "read"), stdin=raw)
            for raw, _ in zip(messages(template), range(count), strict=False)]
    seconds, peak = sum(r[0] for r in runs), max(r[1] for r in runs)
    startup = [run_child(["pass"]) for _ in range(5)]
    print(f"bounces read as an MTA's pipe, a process per message ({count} messages):")
    row("python -c pass (start-up alone)", len(startup), sum(r[0] for r in startup), startup[0][1])
    row("publisher bounces read", count, seconds, peak)


def bench_imap(template: Path, work: Path, count: int) -> None:
    if not (shutil.which("dovecot") and shutil.which("openssl")):
        print("bounces fetch, IMAP: skipped (dovecot-imapd and openssl are not installed)")
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from imapserver import PASSWORD, USER, dovecot

    login = {"PUBLISHER_IMAP_USER": USER, "PUBLISHER_IMAP_PASSWORD": PASSWORD}
    with dovecot() as server:
        print(f"  delivering {count:,} messages to Dovecot ...", file=sys.stderr)
        server.deliver(*messages(template))
        # The baseline moves INBOX to INBOX-done; publisher then reads INBOX-done.
        base_config = fresh_copy(template, work / "imap-base", server.port, str(server.ca_file))
        base = run_child(child("baseline-imap", str(base_config)), env=login)
        ours_config = fresh_copy(template, work / "imap-ours", server.port, str(server.ca_file), "INBOX-done")
        ours = run_child(publisher(ours_config, "bounces", "fetch"), env=login)
    pair("bounces fetch, IMAP (Dovecot on loopback, TLS)", count, ours, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--pipe", type=int, default=30, help="messages read a process each")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](*args.child[1:])))
        return
    work = Path(tempfile.mkdtemp(prefix="publisher-bench-bounces-"))
    try:
        template = work / "template"
        template.mkdir()
        print(f"  preparing {args.messages:,} subscribers and bounces ...", file=sys.stderr)
        run_child(child("prepare", str(template), str(args.messages)))  # this process stays small
        print(f"bounces: {args.messages:,} messages in {len(FORMATS)} formats, each for another subscriber (SQLite)")
        bench_maildir(template, work, args.messages)
        bench_imap(template, work, args.messages)
        bench_take(template, work, args.messages)
        bench_pipe(template, work, args.pipe)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
