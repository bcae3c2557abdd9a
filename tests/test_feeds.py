"""Feeds built from a real store: what readers get, golden files, no-change rebuilds, crashes."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from click.testing import CliRunner
from helpers import NOW, ROOT, SEED, jing, seeded, sqlite_store
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.config import Config
from publisher.feeds import build as build_module
from publisher.jobs.feeds import rebuild_feeds
from publisher.jobs.imports import ImportRequest, import_files

CODES = ("cn", "mn", "all")
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture
def built(tmp_path: Path, db_url: str) -> tuple[Config, sessionmaker[Session], Path]:
    config, sessions = seeded(tmp_path, db_url)
    return config, sessions, Path(config.feeds.dir)


def feed_files(folder: Path) -> list[Path]:
    """The files a reader is given (not the build state, not the gzip copies beside them)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.suffix != ".gz")


def test_each_file_has_its_gzip_copy_for_a_web_server(built) -> None:  # type: ignore[no-untyped-def]
    import gzip

    _, _, folder = built
    files = feed_files(folder)
    assert len(files) == 11 and all(gzip.decompress(p.with_name(p.name + ".gz").read_bytes()) == p.read_bytes()
                         for p in files)
    (folder / "cn" / "atom.xml.gz").unlink()  # lost: the next build puts it back
    config, sessions, _ = built
    assert rebuild_feeds(sessions, config).changed == []
    assert gzip.decompress((folder / "cn" / "atom.xml.gz").read_bytes()) == (folder / "cn" / "atom.xml").read_bytes()


def test_every_atom_file_is_valid_rfc_4287(built) -> None:  # type: ignore[no-untyped-def]
    _, _, folder = built
    atoms = [folder / code / "atom.xml" for code in CODES]
    assert all(path.is_file() for path in atoms)
    jing(atoms)


@pytest.mark.parametrize("name", ["atom.xml", "rss.xml"])
def test_readers_get_complete_entries(built, name: str) -> None:  # type: ignore[no-untyped-def]
    config, _, folder = built
    for code in CODES:
        parsed = feedparser.parse((folder / code / name).read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        ids = [entry.id for entry in parsed.entries]
        assert len(ids) == len(set(ids)) > 0
        for entry in parsed.entries:
            assert entry.title and entry.id.startswith("tag:www.ilo.org,")
            assert entry.link.startswith("http://127.0.0.1:8080/releases/") or urlsplit(entry.link).scheme == "https"
            assert entry.published_parsed is not None
        dates = [entry.published_parsed for entry in parsed.entries]
        assert dates == sorted(dates, reverse=True)  # newest first
        links = {link.rel: link.href for link in parsed.feed.links}
        assert links["self"] == f"http://127.0.0.1:8080/feeds/{code}/{name}"
        assert parsed.feed.link == config.site.home_url  # the office's site
        assert parsed.feed.language == "en"
        assert parsed.feed.generator == "publisher"  # no version number


def test_feed_counts_titles_and_dates(built) -> None:  # type: ignore[no-untyped-def]
    _, _, folder = built
    counts = {code: len(feedparser.parse((folder / code / "atom.xml").read_bytes()).entries)
              for code in CODES}
    assert counts == {"cn": 19, "mn": 1, "all": 20}
    mn = feedparser.parse((folder / "mn" / "atom.xml").read_bytes())
    assert mn.feed.title == "ILO news: Mongolia"
    assert mn.feed.updated == "2021-10-19T00:00:00+08:00" == mn.entries[0].updated
    rss = feedparser.parse((folder / "all" / "rss.xml").read_bytes())
    newest = rss.entries[0]
    assert rss.feed.updated == newest.published  # lastBuildDate is the newest entry's, not now
    assert newest.id == newest.guid and not newest.guidislink


def test_json_feed_has_every_required_field(built) -> None:  # type: ignore[no-untyped-def]
    _, _, folder = built
    for code in CODES:
        feed = json.loads((folder / code / "feed.json").read_text("utf-8"))
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert feed["title"] and feed["feed_url"].endswith(f"/feeds/{code}/feed.json")
        assert feed["items"]
        for item in feed["items"]:
            assert item["id"] and ("content_text" in item or "content_html" in item)
            datetime.fromisoformat(item["date_published"])
        assert len({item["id"] for item in feed["items"]}) == len(feed["items"])


def test_max_items_caps_every_feed(tmp_path: Path) -> None:
    config, _ = seeded(tmp_path, sqlite_store(tmp_path), max_items="3")
    parsed = feedparser.parse((Path(config.feeds.dir) / "cn" / "atom.xml").read_bytes())
    assert [e.title[:20] for e in parsed.entries] == [
        "ILO supports inclusi", "Chinese celebrity ac", "Seminar on digital t"]


def test_index_page_and_opml_list_every_feed(built) -> None:  # type: ignore[no-untyped-def]
    _, _, folder = built
    index = (folder / "index.html").read_text("utf-8")
    for code in CODES:
        for name, kind in [("atom.xml", "application/atom+xml"), ("rss.xml", "application/rss+xml"),
                           ("feed.json", "application/feed+json")]:
            url = f"http://127.0.0.1:8080/feeds/{code}/{name}"
            assert f'<link rel="alternate" type="{kind}"' in index and f'href="{url}"' in index
    opml = (folder / "feeds.opml").read_bytes()
    from lxml import etree

    outlines = etree.fromstring(opml).findall("body/outline")
    assert [o.get("xmlUrl").split("/")[-2] for o in outlines] == list(CODES)
    assert etree.fromstring(opml).get("version") == "2.0"


def test_golden_files_for_the_seed(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    config, _ = seeded(tmp_path, sqlite_store(tmp_path))
    folder = Path(config.feeds.dir)
    produced = {str(p.relative_to(folder)): p.read_bytes() for p in feed_files(folder)}
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for relative, data in produced.items():
            (GOLDEN / relative).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / relative).write_bytes(data)
    expected = {str(p.relative_to(GOLDEN)): p.read_bytes() for p in feed_files(GOLDEN)}
    assert sorted(produced) == sorted(expected)
    for relative in produced:
        assert produced[relative] == expected[relative], (
            f"{relative} differs from tests/golden; if intended, run pytest --update-golden")


def test_same_database_gives_byte_identical_files(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, sessions, folder = built
    other = config.model_copy(update={"feeds": config.feeds.model_copy(
        update={"dir": str(tmp_path / "again")})})
    rebuild_feeds(sessions, other)
    assert [p.read_bytes() for p in feed_files(folder)] == [
        p.read_bytes() for p in feed_files(tmp_path / "again")]


def test_no_change_rebuild_writes_nothing_and_renders_nothing(built, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config, sessions, folder = built
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}

    def refuse(*_args: object) -> bytes:
        raise AssertionError("a no-change rebuild rendered a feed")

    monkeypatch.setattr(build_module, "FORMATS", dict.fromkeys(build_module.FORMATS, refuse))
    report = rebuild_feeds(sessions, config)
    assert report.line() == f"feeds: 0 changed, 11 unchanged in {folder}"
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == before


def test_cli_rebuild_prints_zero_changed(built) -> None:  # type: ignore[no-untyped-def]
    _config, _, folder = built
    result = CliRunner().invoke(cli, ["--config", str(folder.parent / "config.toml"), "feeds", "build"])
    assert result.exit_code == 0, result.output
    assert result.output == f"feeds: 0 changed, 11 unchanged in {folder}\n"


def test_a_changed_release_rewrites_only_the_feeds_that_show_it(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, sessions, folder = built
    edited = tmp_path / "edited.txt"
    edited.write_text(SEED.read_text("utf-8").replace("join hands to address", "join hands to solve"))
    later = NOW + timedelta(hours=1)
    outcome = import_files(sessions, config, [ImportRequest(str(edited))], later)
    assert outcome.feeds is not None
    assert sorted(outcome.feeds.changed) == [f"{code}/{name}" for code in ("all", "cn")
                                             for name in ("atom.xml", "feed.json", "rss.xml")]
    cn = feedparser.parse((folder / "cn" / "atom.xml").read_bytes())
    assert "join hands to solve" in cn.entries[0].summary
    assert cn.feed.updated == cn.entries[0].updated == later.astimezone(config.site.zone).isoformat()


def test_a_deleted_or_edited_file_is_rebuilt(built) -> None:  # type: ignore[no-untyped-def]
    config, sessions, folder = built
    (folder / "mn" / "rss.xml").unlink()
    (folder / "cn" / "feed.json").write_text("{}")
    report = rebuild_feeds(sessions, config)
    assert sorted(report.changed) == ["cn/feed.json", "mn/rss.xml"]


def test_a_crash_while_writing_leaves_the_old_file(built, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config, sessions, folder = built
    old = (folder / "cn" / "atom.xml").read_bytes()
    edited = tmp_path / "edited.txt"
    edited.write_text(SEED.read_text("utf-8").replace("join hands to address", "join hands to fix"))

    def crash(src: str, dst: str) -> None:
        assert Path(src).read_bytes() != old  # the new feed was fully written to the temp file
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        import_files(sessions, config, [ImportRequest(str(edited))], NOW + timedelta(1))
    assert (folder / "cn" / "atom.xml").read_bytes() == old
    assert not list(folder.rglob("*.tmp"))
    monkeypatch.undo()
    report = rebuild_feeds(sessions, config)  # the next build catches up
    assert "cn/atom.xml" in report.changed
    assert b"join hands to fix" in (folder / "cn" / "atom.xml").read_bytes()


def test_image_enclosures_in_each_format(tmp_path: Path) -> None:
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    path = tmp_path / "img.json"
    path.write_text(json.dumps([{
        "title": "Photo story from Ulaanbaatar", "published": "2024-02-01",
        "url": "https://www.ilo.org/x?a=1&b=2", "image_url": "https://www.ilo.org/p.png",
        "image_credit": "© Photographer"}]))
    import_files(sessions, config, [ImportRequest(str(path))], NOW)
    folder = Path(config.feeds.dir)
    atom = feedparser.parse((folder / "mn" / "atom.xml").read_bytes())
    entry = atom.entries[0]
    assert entry.link == "https://www.ilo.org/x?a=1&b=2"
    rels = sorted((link.rel, link.get("type")) for link in entry.links)
    assert rels == [("alternate", "text/html"), ("enclosure", "image/png")]
    rss = feedparser.parse((folder / "mn" / "rss.xml").read_bytes())
    assert rss.entries[0].enclosures[0].href == "https://www.ilo.org/p.png"
    assert rss.entries[0].link == "https://www.ilo.org/x?a=1&b=2"
    item = json.loads((folder / "mn" / "feed.json").read_text())["items"][0]
    assert item["image"] == "https://www.ilo.org/p.png"
    jing([folder / "mn" / "atom.xml"])


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 96 KB file system (tmpfs, mounted as root): a disk that fills during a build."""
    import subprocess

    folder = tmp_path / "small"
    folder.mkdir()
    if os.getuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(folder)],
                                          capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")  # (CI runs as root)
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_is_one_line_and_leaves_no_half_files(tmp_path: Path, small_disk: Path) -> None:
    """A disk full during a feed write gave a traceback."""
    from helpers import set_keys, write_config

    path = write_config(tmp_path, sqlite_store(tmp_path))
    set_keys(path, "feeds", dir=f'"{small_disk}"')
    result = CliRunner().invoke(cli, ["--config", str(path), "import", str(SEED)])
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    [line] = result.stderr.strip().splitlines()
    assert "cannot write (No space left on device)" in line and str(small_disk) in line
    assert not [name for _, _, names in os.walk(small_disk) for name in names if name.endswith(".tmp")]


def test_moving_the_site_moves_every_link_and_no_feed_id(built) -> None:  # type: ignore[no-untyped-def]
    """A release without a URL of its own stored `{site.base_url}/releases/slug` at import: after a
    move (trial to production), feeds kept the old host and re-imports said "unchanged"."""
    config, sessions, folder = built
    before = feedparser.parse((folder / "cn" / "atom.xml").read_bytes())
    moved = config.model_copy(update={"site": config.site.model_copy(
        update={"base_url": "https://news.example.org/beijing"})})
    report = rebuild_feeds(sessions, moved)
    assert "cn/atom.xml" in report.changed
    after = feedparser.parse((folder / "cn" / "atom.xml").read_bytes())
    ours = [(old, new) for old, new in zip(before.entries, after.entries, strict=True)
            if "/releases/" in old.link]
    assert ours and all(new.link.startswith("https://news.example.org/beijing/releases/") and
                        new.link.endswith(old.link.rsplit("/", 1)[1]) for old, new in ours)
    assert [entry.id for entry in after.entries] == [entry.id for entry in before.entries]  # tag: ids stay


def test_a_store_from_before_forgets_the_host_of_its_own_pages(tmp_path: Path) -> None:
    """Migration 0021: a stored `{any host}/releases/{slug}` becomes no URL of its own; a real
    one of the office's stays."""
    from sqlalchemy import text

    from publisher.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0020")
    with engine.begin() as connection:
        for number, url in enumerate(["http://127.0.0.1:8080/releases/a-1", "https://www.ilo.org/beijing/news/a-2"]):
            connection.execute(text(
                "INSERT INTO releases (source_key, permanent_id, slug, title, summary, url, published, updated,"
                " source, content_hash) VALUES (:key, :id, :slug, 't', '', :url, '2026-01-01 00:00:00',"
                " '2026-01-01 00:00:00', 'x', 'h')"),
                {"key": f"k{number}", "id": f"tag:x,2026-01-01:{number}", "slug": f"a-{number + 1}", "url": url})
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT url FROM releases ORDER BY slug")).scalars().all() == [
            None, "https://www.ilo.org/beijing/news/a-2"]
