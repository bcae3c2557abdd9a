"""Subscribers from the command line: validated, normalized, never duplicated, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import sqlite_store, write_config
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from publisher.cli import cli
from publisher.config import load_config
from publisher.errors import InputError
from publisher.store.db import open_store
from publisher.store.models import Subscriber
from publisher.subscribers.people import normalize_email, parse_subscriber_csv


def run(path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "subscribers", *args])
    return result.exit_code, result.stdout, result.stderr


def count(path: Path) -> int:
    sessions = open_store(load_config(path, environ={}))
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Subscriber)) or 0


def test_add_normalizes_and_never_duplicates(config_path: Path) -> None:
    assert run(config_path, "add", "Reader@Example.ORG", "--countries", "cn")[1] == \
        "added Reader@example.org (CN)\n"
    assert run(config_path, "add", "reader@example.org", "--countries", "CN MN")[1] == \
        "updated reader@example.org (CN MN)\n"
    assert count(config_path) == 1
    _code, out, _ = run(config_path, "list")
    assert "Reader@example.org" in out and "CN MN" in out and "confirmed" in out
    assert out.endswith("1 subscriber\n")  # (one, not "1 subscribers")


@pytest.mark.parametrize(("address", "countries", "message"), [
    ("not-an-address", "CN", "not a valid email address"),
    ("a@example.org", "FR", "unknown country 'FR'"),
    ("a@example.org", "", "no countries"),
])
def test_add_refuses_bad_input(config_path: Path, address: str, countries: str, message: str) -> None:
    code, _, err = run(config_path, "add", address, "--countries", countries)
    assert code == 2 and message in err


def test_import_export_round_trip_and_pending(config_path: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,countries\nA@example.org,CN\nb@example.org,CN MN\n", "utf-8")
    assert run(config_path, "import", str(people), "--pending")[1] == \
        f"imported 2 new, 0 updated, 0 unchanged from {people}\n"
    assert run(config_path, "import", str(people))[1] == \
        f"imported 0 new, 2 updated, 0 unchanged from {people}\n"  # now confirmed
    out_file = tmp_path / "out.csv"
    assert run(config_path, "export", str(out_file))[1] == f"exported 2 subscribers to {out_file}\n"
    assert out_file.read_text() == ("email,countries,status,language,digests\nA@example.org,CN,confirmed,en,\n"
                                    "b@example.org,CN MN,confirmed,en,\n")
    assert run(config_path, "import", str(out_file))[1].startswith("imported 0 new, 0 updated, 2 unchanged")
    people.write_text("email,countries,digests\nb@example.org,CN MN,mongolia-monthly\n", "utf-8")
    assert run(config_path, "import", str(people))[1].startswith("imported 0 new, 1 updated")
    run(config_path, "export", str(out_file))
    assert out_file.read_text().splitlines()[2] == "b@example.org,CN MN,confirmed,en,mongolia-monthly"
    people.write_text("email,countries,digests\nb@example.org,CN,mongolia-weekly\n", "utf-8")
    code, _out, err = run(config_path, "import", str(people))
    assert code != 0 and "line 2" in err and "unknown digest 'mongolia-weekly'" in err


def test_an_address_a_spreadsheet_would_run_is_exported_as_text(config_path: Path, tmp_path: Path) -> None:
    """`=1+2@example.org` is a valid address, and a formula to a spreadsheet: exported with a
    leading apostrophe (shown as text), and imported again as the same address."""
    assert run(config_path, "add", "=1+2@example.org", "--countries", "CN")[0] == 0
    out_file = tmp_path / "out.csv"
    run(config_path, "export", str(out_file))
    assert out_file.read_text().splitlines()[1] == "'=1+2@example.org,CN,confirmed,en,"
    assert run(config_path, "import", str(out_file))[1].startswith("imported 0 new, 0 updated, 1 unchanged")


def test_a_bad_row_names_its_line_and_stores_nothing(config_path: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,countries\ngood@example.org,CN\nbad@@example,CN\n", "utf-8")
    code, out, err = run(config_path, "import", str(people))
    assert code == 1 and out == ""
    assert f"{people}: line 3: not a valid email address 'bad@@example'" in err
    assert count(config_path) == 0


def test_remove(config_path: Path) -> None:
    run(config_path, "add", "x@example.org", "--countries", "MN")
    assert run(config_path, "remove", "X@example.org")[1] == "removed X@example.org\n"
    assert count(config_path) == 0
    code, _, err = run(config_path, "remove", "x@example.org")
    assert code == 1 and "no subscriber x@example.org" in err


local = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABC0123456789._+-"), min_size=1,
                max_size=20).filter(lambda s: not s.startswith(".") and not s.endswith(".")
                                    and ".." not in s)


@given(st.lists(st.tuples(local, st.sampled_from(["CN", "MN", "CN MN", "mn cn"])), max_size=6,
                unique_by=lambda row: row[0].lower()))
def test_csv_rows_parse_to_normalized_addresses(rows: list[tuple[str, str]]) -> None:
    text = "email,countries\n" + "".join(f"{name}@Example.org,{codes}\n" for name, codes in rows)
    parsed = parse_subscriber_csv(text, "gen.csv", ("CN", "MN"))
    assert [row.email for row in parsed] == [normalize_email(f"{name}@example.org") for name, _ in rows]
    assert all(set(row.countries) <= {"CN", "MN"} for row in parsed)


@pytest.mark.parametrize(("text", "problem"), [
    ("email,countries\na@example.org,CN\nA@example.org,MN\n",
     "x.csv: line 3: A@example.org is also on line 2, with other countries or status"),
    ("email,countries,email\na@example.org,CN,b@example.org\n", "x.csv: line 1: the column 'email' is named twice"),
    ("email,countries\na@example.org,CN,confirmed\n", "x.csv: line 2: more values than the header has columns"),
    ('email,countries\na@example.org,CN\n"b@example.org,CN\n', "x.csv: line 3: a quoted value is never closed"),
])
def test_csv_rows_that_cannot_both_be_meant_are_refused(text: str, problem: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_subscriber_csv(text, "x.csv", ("CN", "MN"))
    assert str(raised.value).startswith(problem)


def test_the_same_row_twice_is_one_subscriber() -> None:
    rows = parse_subscriber_csv("email,countries\na@example.org,CN\nA@Example.org,CN\n", "x.csv", ("CN",))
    assert [(row.email, row.where) for row in rows] == [("a@example.org", "line 2")]


def test_new_subscribers_are_stored_whole_and_a_repeat_changes_one(sessions) -> None:  # type: ignore[no-untyped-def]
    """New addresses are inserted many at a time: each with its countries, digests, language,
    a link nonce of its own and the audit's values; the same new address again further down the
    rows is stored once and changed as a known one; a known address is updated."""
    from publisher.store.statuses import SubscriberStatus
    from publisher.subscribers.people import SubscriberRow, save_subscribers, subscriber_values

    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with sessions.begin() as session:
        save_subscribers(session, [SubscriberRow("known@example.org", ("CN",))], SubscriberStatus.PENDING, now)
    rows = [SubscriberRow("a@example.org", ("MN", "CN", "MN"), language="mn", digests=("mongolia-monthly",)),
            SubscriberRow("known@example.org", ("MN",)),
            SubscriberRow("b@example.org", ("CN",), status=SubscriberStatus.PENDING),
            SubscriberRow("a@example.org", ("CN",))]
    with sessions.begin() as session:  # then a batch with neither a country nor a digest to store
        counts = save_subscribers(session, rows, SubscriberStatus.CONFIRMED, now)
        counts.add(save_subscribers(session, [SubscriberRow("c@example.org", ())], SubscriberStatus.CONFIRMED, now))
    assert (counts.new, counts.updated, counts.unchanged, counts.kept_stopped) == (3, 2, 0, 0)
    assert [(address, before is None) for address, before, _after in counts.changes] == [
        ("a@example.org", True), ("known@example.org", False), ("b@example.org", True), ("a@example.org", False)]
    with sessions() as session:
        stored = {subscriber.email: subscriber for subscriber in session.scalars(select(Subscriber))}
        assert {address: (str(one.status), sorted(one.country_codes), one.digest_names, one.language)
                for address, one in stored.items()} == {
            "a@example.org": ("confirmed", ["CN"], ["mongolia-monthly"], "mn"),
            "known@example.org": ("confirmed", ["MN"], [], "en"),
            "b@example.org": ("pending", ["CN"], [], "en"), "c@example.org": ("confirmed", [], [], "en")}
        assert len({one.token_nonce for one in stored.values()}) == 4
        assert stored["b@example.org"].created == now and stored["b@example.org"].status_since == now
        assert counts.changes[2][2] == subscriber_values(stored["b@example.org"])
        assert counts.changes[0][2] == {"email": "a@example.org", "status": "confirmed", "countries": ["CN", "MN"],
                                        "language": "mn", "digests": ["mongolia-monthly"]}


def test_csv_needs_its_header() -> None:
    with pytest.raises(InputError, match="line 1: expected a header row"):
        parse_subscriber_csv("a@example.org,CN\n", "x.csv", ("CN",))


def test_tokens_are_bound_to_purpose_and_subscriber_and_can_expire() -> None:
    from publisher.subscribers.tokens import Signer, TokenError

    clock = [datetime(2026, 11, 28, 12, 0, tzinfo=UTC)]
    signer = Signer("a key", clock=lambda: clock[0])
    token = signer.sign("confirm", 42, "nonce")
    assert Signer.subscriber_id(token) == 42
    signer.verify("confirm", token, "nonce", max_age=timedelta(seconds=60))
    for purpose, nonce, other in (("unsubscribe", "nonce", signer), ("confirm", "another nonce", signer),
                                  ("confirm", "nonce", Signer("another key"))):
        with pytest.raises(TokenError, match="not valid"):
            other.verify(purpose, token, nonce)
    with pytest.raises(TokenError, match="not valid"):  # dated in the future: not one we made
        signer.verify("confirm", signer.sign("confirm", 42, "nonce", issued=int(clock[0].timestamp()) + 3600),
                      "nonce")
    clock[0] += timedelta(hours=1)
    with pytest.raises(TokenError, match="expired"):
        signer.verify("confirm", token, "nonce", max_age=timedelta(seconds=60))
    signer.verify("confirm", token, "nonce")  # no age limit: unsubscribe links keep working
    for odd in ("².1.x", "1.².x", "1" * 40 + ".1.x", "٣.1.x"):  # digits to str.isdigit, not to us
        with pytest.raises(TokenError, match="not valid"):
            signer.verify("confirm", odd, "nonce")
    for odd in ("².1.x", "1" * 40 + ".1.x", "٣.1.x"):
        with pytest.raises(TokenError, match="not valid"):
            Signer.subscriber_id(odd)


_PRINT_KEY = ("import sys; from pathlib import Path; from publisher.config import load_config; "
              "from publisher.subscribers.keys import signing_key; "
              "print(signing_key(load_config(Path(sys.argv[1]), environ={}).secrets, environ={}))")


@pytest.mark.slow
def test_eight_processes_starting_at_once_hold_one_whole_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    path = write_config(tmp_path, sqlite_store(tmp_path))
    processes = [subprocess.Popen([sys.executable, "-c", _PRINT_KEY, str(path)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(8)]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    [key] = keys
    assert len(key) >= 32 and (tmp_path / "secret.key").read_text().strip() == key
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret.key")] == []


@pytest.mark.parametrize(("file_text", "variable"), [("", None), ("\n", None), ("short", None),
                                                     (None, ""), (None, "a short key")])
def test_an_empty_or_short_key_is_refused(tmp_path, file_text: str | None, variable: str | None) -> None:  # type: ignore[no-untyped-def]
    from publisher.config import load_config
    from publisher.subscribers.keys import KeyProblem, signing_key

    path = write_config(tmp_path, sqlite_store(tmp_path))
    if file_text is not None:
        (tmp_path / "secret.key").write_text(file_text)
    environ = {} if variable is None else {"PUBLISHER_SECRET_KEY": variable}
    with pytest.raises(KeyProblem, match=r"signing key is (empty|too short)"):
        signing_key(load_config(path, environ={}).secrets, environ=environ)
    result = CliRunner().invoke(cli, ["--config", str(path), "serve"], env=environ)
    assert result.exit_code == 2 and "signing key" in result.stderr


def test_a_subscribers_language_is_added_imported_and_exported(config_path: Path, tmp_path: Path) -> None:
    assert run(config_path, "add", "zh@example.org", "--countries", "CN", "--language", "zh-CN")[0] == 0
    code, _, err = run(config_path, "add", "x@example.org", "--countries", "CN", "--language", "fr")
    assert code == 2 and "unknown language 'fr'" in err
    people = tmp_path / "people.csv"
    people.write_text("email,countries,language\nmn@example.org,MN,mn\nzh@example.org,CN,\n", "utf-8")
    assert run(config_path, "import", str(people))[0] == 0
    out_file = tmp_path / "out.csv"
    run(config_path, "export", str(out_file))
    assert sorted(out_file.read_text().splitlines()[1:]) == [
        "mn@example.org,MN,confirmed,mn,", "zh@example.org,CN,confirmed,zh_Hans,"]  # kept when not given
    bad = tmp_path / "bad.csv"
    bad.write_text("email,countries,language\nq@example.org,CN,klingon\n", "utf-8")
    code, _, err = run(config_path, "import", str(bad))
    assert code == 1 and "line 2: unknown language 'klingon'" in err


@pytest.mark.parametrize("how", ["cli", "job"])
def test_reimporting_a_csv_brings_nobody_back_and_the_audit_names_each_change(config_path: Path, how: str) -> None:
    """Exporting, editing in a spreadsheet and importing again is ordinary office work: the
    people who left stay out, whatever the status column says."""
    from publisher.jobs.subscribers import import_csv
    from publisher.store.models import AuditEntry

    for address in ("stays@example.org", "left@example.org", "angry@example.org", "gone@example.org"):
        assert run(config_path, "add", address, "--countries", "CN")[0] == 0
    sessions = open_store(load_config(config_path, environ={}))
    with sessions.begin() as session:
        for address, status in (("left@example.org", "unsubscribed"), ("angry@example.org", "complained"),
                                ("gone@example.org", "bounced")):
            session.scalars(select(Subscriber).where(Subscriber.email == address)).one().status = status  # type: ignore[assignment]
    edited = config_path.parent / "edited.csv"
    edited.write_text("email,countries,status\nstays@example.org,CN MN,confirmed\nleft@example.org,CN,confirmed\n"
                      "angry@example.org,CN,pending\ngone@example.org,MN,\nnew@example.org,MN,\n")
    if how == "cli":
        code, out, _ = run(config_path, "import", str(edited))
        assert (code, out) == (0, f"imported 1 new, 1 updated, 0 unchanged, 3 left stopped (only they can "
                                  f"come back) from {edited}\n")
    else:
        import_csv(sessions, load_config(config_path, environ={}), "ana@ilo.org", edited.read_bytes(),
                   "edited.csv", datetime.now(UTC))
    with sessions() as session:
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
        audit = session.execute(select(AuditEntry.action, AuditEntry.subject, AuditEntry.before, AuditEntry.after)
                                .where(AuditEntry.action == "subscriber.import")).all()
    assert [statuses[a] for a in ("left@example.org", "angry@example.org", "gone@example.org")] == [
        "unsubscribed", "complained", "bounced"]
    assert sorted(subject for _, subject, _, _ in audit) == ["new@example.org", "stays@example.org"]
    [(_, _, before, after)] = [row for row in audit if row[1] == "stays@example.org"]
    assert '"CN"' in before and '"MN"' in after and '"MN"' not in before


def test_a_long_import_lets_other_writers_in(tmp_path: Path) -> None:
    """SQLite has one writer: a 100,000-row import in one transaction held the lock for 74 s,
    and the site's sign-ups failed with "database is locked". In chunks, another writer waits
    at most one chunk."""
    import sqlite3
    import threading

    from publisher.jobs.subscribers import IMPORT_CHUNK, import_csv

    database = tmp_path / "x.db"
    path = write_config(tmp_path, f"sqlite:///{database}")
    config = load_config(path, environ={})
    sessions = open_store(config)
    rows = 8 * IMPORT_CHUNK
    data = ("email,countries\n" + "".join(f"r{i}@example.org,CN\n" for i in range(rows))).encode()
    took = []

    def run_import() -> None:
        started = datetime.now(UTC)
        import_csv(sessions, config, "ana", data, "big.csv", started)
        took.append((datetime.now(UTC) - started).total_seconds())

    importing = threading.Thread(target=run_import)
    importing.start()
    waits = []
    with sqlite3.connect(database, timeout=5, isolation_level=None) as other:
        while importing.is_alive() or not waits:
            started = datetime.now(UTC)
            other.execute("BEGIN IMMEDIATE")  # the write lock, as a sign-up takes it
            waits.append((datetime.now(UTC) - started).total_seconds())
            other.execute("COMMIT")
    importing.join()
    assert count(path) == rows
    assert len(waits) > 3 and max(waits) < took[0] / 3, (took, waits)  # the import went on between them


@pytest.mark.parametrize("key", [" " * 40, "a" * 32, "password" * 4, "0123" * 10])
def test_a_key_that_is_plainly_not_random_is_refused(tmp_path, key: str) -> None:  # type: ignore[no-untyped-def]
    from publisher.config import load_config
    from publisher.subscribers.keys import KeyProblem, signing_key

    path = write_config(tmp_path, sqlite_store(tmp_path))
    with pytest.raises(KeyProblem, match=r"signing key is (empty|not random enough)"):
        signing_key(load_config(path, environ={}).secrets, environ={"PUBLISHER_SECRET_KEY": key})
    secrets = load_config(path, environ={}).secrets
    assert signing_key(secrets, environ={"PUBLISHER_SECRET_KEY": "0f" * 8 + "9c3ab17e55d0428b"})
