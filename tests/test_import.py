"""Importing into a real store (SQLite file and PostgreSQL): idempotence, updates, tags, rollback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from helpers import SEED
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from publisher.cli import cli
from publisher.config import Config
from publisher.errors import InputError
from publisher.ingest.save import ImportCounts
from publisher.jobs.imports import ImportRequest, import_files
from publisher.store.models import Release
from publisher.store.releases import newest_query, newest_releases
from publisher.urls import release_link

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def run_cli(config_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
    return result.exit_code, result.stdout, result.stderr


def import_file(sessions: sessionmaker[Session], config: Config, path: Path, now: datetime = NOW):
    [(_, counts)] = import_files(sessions, config, [ImportRequest(str(path))], now).files
    return counts


def all_releases(sessions: sessionmaker[Session]) -> dict[str, Release]:
    with sessions() as session:
        return {r.title: r for r in newest_releases(session, None, 1000)}


def test_seed_imports_twenty_new_then_twenty_unchanged(config_path: Path) -> None:
    feeds = config_path.parent / "feeds"
    code, out, err = run_cli(config_path, "import", str(SEED))
    assert (code, out) == (0, f"imported 20 new, 0 updated, 0 unchanged from {SEED}\n"
                              f"feeds: 11 changed, 0 unchanged in {feeds}\n"), err
    code, out, _ = run_cli(config_path, "import", str(SEED))  # nothing changed: no rebuild
    assert (code, out) == (0, f"imported 0 new, 0 updated, 20 unchanged from {SEED}\n")


def test_seed_tags_the_mongolia_study_mn_and_the_rest_cn(sessions, config) -> None:  # type: ignore[no-untyped-def]
    import_file(sessions, config, SEED)
    releases = all_releases(sessions)
    assert len(releases) == 20
    mongolia = "Social Protection Diagnostic Review and Financing Strategy Study for Mongolia"
    assert releases.pop(mongolia).country_codes == ["MN"]
    assert {tuple(r.country_codes) for r in releases.values()} == {("CN",)}


def test_stored_releases_keep_what_the_listing_said(sessions, config) -> None:  # type: ignore[no-untyped-def]
    import_file(sessions, config, SEED)
    releases = all_releases(sessions)
    tourism = next(r for r in releases.values() if r.image_credit)
    assert tourism.title.startswith("ILO research highlights massive COVID-19 impact on tourism")
    assert tourism.image_credit == "© ShutterStock 2023"
    # A date without a time is midnight in the site's zone (Asia/Shanghai, UTC+8).
    assert tourism.published == datetime(2021, 11, 17, 16, 0, tzinfo=UTC)
    assert tourism.published.tzinfo is not None and tourism.updated == tourism.published
    # No URL of its own: its page here, on whatever site.base_url is when it is shown
    assert tourism.url is None
    assert release_link(config.site, tourism.url, tourism.slug) == f"{config.site.base_url}/releases/{tourism.slug}"
    assert tourism.permanent_id.startswith("tag:www.ilo.org,2021-11-18:/beijing/releases/ilo-research")
    assert len({r.slug for r in releases.values()}) == 20


def test_datetimes_come_back_timezone_aware_in_utc(sessions, db_url) -> None:  # type: ignore[no-untyped-def]
    moment = datetime(2024, 5, 1, 9, 30, tzinfo=ZoneInfo("Asia/Ulaanbaatar"))
    with sessions.begin() as session:
        session.add(Release(source_key="k", permanent_id="tag:x,2024:1", slug="s", title="T",
                            summary="", url="https://x.org", published=moment, updated=moment,
                            source="test", content_hash="h"))
    with sessions() as session:
        stored = session.scalars(select(Release)).one()
    assert stored.published == moment and stored.published.utcoffset() == timedelta(0)
    assert stored.published.tzinfo is UTC


def test_changed_summary_updates_the_release_and_its_updated_time(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    import_file(sessions, config, SEED)
    before = all_releases(sessions)
    edited = tmp_path / "edited.txt"
    edited.write_text(SEED.read_text("utf-8").replace(
        "join hands to address key issues", "join hands to tackle key issues"), "utf-8")
    later = NOW + timedelta(days=1)
    counts = import_file(sessions, config, edited, later)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 19)
    after = all_releases(sessions)
    changed = [t for t in after if after[t].summary != before[t].summary]
    assert len(changed) == 1
    release, old = after[changed[0]], before[changed[0]]
    assert "tackle key issues" in release.summary
    assert release.updated == later
    assert (release.permanent_id, release.slug, release.published) == (old.permanent_id, old.slug, old.published)


def test_the_same_release_twice_in_one_file_is_stored_once(tmp_path, sessions, config, caplog) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "twice.json"
    record = {"title": "Same", "published": "2024-01-01", "url": "https://example.org/same"}
    path.write_text(json.dumps([record, record, {**record, "url": "https://example.org/other"}]))
    counts = import_file(sessions, config, path)
    assert (counts.new, counts.updated, counts.unchanged) == (2, 0, 0)
    assert "record 2 is the same release as record 1" in caplog.text
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Release)) == 2
        slugs = sorted(session.scalars(select(Release.slug)))
    assert slugs == ["same", "same-2024-01-01"]


def test_a_bad_entry_rolls_back_the_whole_import(tmp_path, config_path, sessions) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.csv"
    good.write_text("title,published\nFine release in China,2024-01-01\n", "utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("title,published\nAnother in China,2024-01-02\nBroken,someday\n", "utf-8")
    code, out, err = run_cli(config_path, "import", str(good), str(bad))
    assert code == 1 and out == ""
    assert f"{bad}: line 3: field 'published'" in err
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Release)) == 0


def test_an_unknown_country_rolls_back_after_earlier_rows_were_staged(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "countries.json"
    path.write_text(json.dumps([{"title": "A", "published": "2024-01-01", "countries": ["CN"]},
                                {"title": "B", "published": "2024-01-02", "countries": ["XX"]}]))
    with pytest.raises(InputError, match=r"record 2: unknown country 'XX'"):
        import_file(sessions, config, path)
    assert all_releases(sessions) == {}


def test_explicit_countries_win_and_keywords_tag_every_matching_country(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "tags.json"
    path.write_text(json.dumps([
        {"title": "Mongolia and China sign a pact", "published": "2024-01-01"},
        {"title": "Visit to Ulaanbaatar", "published": "2024-01-02", "countries": "CN"},
        {"title": "Mongolian herders", "published": "2024-01-03"},
        {"title": "A Mongoliad is not Mongolia-land", "published": "2024-01-04"},
    ]))
    import_file(sessions, config, path)
    tags = {t: r.country_codes for t, r in all_releases(sessions).items()}
    assert tags == {"Mongolia and China sign a pact": ["CN", "MN"], "Visit to Ulaanbaatar": ["CN"],
                    "Mongolian herders": ["MN"], "A Mongoliad is not Mongolia-land": ["MN"]}


def test_newest_per_country_is_a_range_scan_of_the_index(sessions, config, db_url) -> None:  # type: ignore[no-untyped-def]
    import_file(sessions, config, SEED)
    with sessions() as session:
        assert [r.title for r in newest_releases(session, "MN", 5)] == [
            "Social Protection Diagnostic Review and Financing Strategy Study for Mongolia"]
        assert len(newest_releases(session, "CN", 5)) == 5
        country_plan = _plan(session, newest_query("CN", 5))
        all_plan = _plan(session, newest_query(None, 5))
    assert "ix_release_countries_newest" in country_plan
    assert "ix_releases_newest" in all_plan
    if db_url.startswith("sqlite"):
        assert "TEMP B-TREE" not in country_plan + all_plan  # no sort: the index gives the order
    else:
        assert "Sort" not in country_plan + all_plan


def _plan(session: Session, query: Select[tuple[Release]]) -> str:
    """The database's own plan for the query that newest_releases runs."""
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    if session.get_bind().dialect.name == "sqlite":
        return " ".join(str(row) for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
    session.execute(text("SET enable_seqscan = off"))  # the table is tiny; ask what it would use
    return " ".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))


def test_a_field_a_page_leaves_out_is_kept_and_is_no_change(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    full = tmp_path / "full.json"
    full.write_text(json.dumps([{
        "title": "Decent work in China", "published": "2024-03-01", "summary": "The whole story.",
        "image_url": "https://example.org/a.jpg", "image_credit": "© ILO",
        "category": "World Employment and Social Outlook"}]), "utf-8")
    import_file(sessions, config, full)
    before = all_releases(sessions)["Decent work in China"]
    cut = tmp_path / "home.txt"  # the home page shows the title and date only
    cut.write_text("2024\n\n  1. Decent work in China\n\n    01 March 2024\n", "utf-8")
    counts = import_file(sessions, config, cut, NOW + timedelta(days=1))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)
    kept = all_releases(sessions)["Decent work in China"]
    assert (kept.summary, kept.image_url, kept.image_credit, kept.category, kept.updated) == (
        "The whole story.", "https://example.org/a.jpg", "© ILO",
        "World Employment and Social Outlook", before.updated)
    changed = tmp_path / "changed.txt"  # present and different: that is news
    changed.write_text("2024\n\n  1. Flagship report\n\n    Decent work in China\n\n"
                       "    01 March 2024\n\n    A new summary.\n", "utf-8")
    later = NOW + timedelta(days=2)
    counts = import_file(sessions, config, changed, later)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)
    now = all_releases(sessions)["Decent work in China"]
    assert (now.summary, now.category, now.image_credit, now.updated) == (
        "A new summary.", "Flagship report", "© ILO", later)


def test_keywords_match_per_script_and_the_longest_match_wins(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "scripts.json"
    path.write_text(json.dumps([
        {"title": "ILO holds forum on just transition in Inner Mongolia", "published": "2024-01-01"},
        {"title": "国际劳工组织与中国签署协议", "published": "2024-01-02"},
        {"title": "内蒙古公正转型论坛", "published": "2024-01-03"},
        {"title": "Монголын ажилчдын эрх", "published": "2024-01-04"},
        {"title": "Inner Mongolia and Mongolia trade fair", "published": "2024-01-05"},
    ], ensure_ascii=False), "utf-8")
    import_file(sessions, config, path)
    tags = {t: r.country_codes for t, r in all_releases(sessions).items()}
    assert tags == {"ILO holds forum on just transition in Inner Mongolia": ["CN"],
                    "国际劳工组织与中国签署协议": ["CN"], "内蒙古公正转型论坛": ["CN"],
                    "Монголын ажилчдын эрх": ["MN"], "Inner Mongolia and Mongolia trade fair": ["CN", "MN"]}


def test_chinese_mongolian_and_marked_up_titles_get_readable_latin_slugs(tmp_path, sessions, config) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "slugs.json"
    path.write_text(json.dumps([
        {"title": "国际劳工组织在北京发布报告", "published": "2024-01-01"},
        {"title": "Монгол Улсын хөдөлмөрийн зах зээл", "published": "2024-01-02"},
        {"title": "Decent work & <b>green</b> jobs in China", "published": "2024-01-03"},
        {"title": "国际劳工组织在北京发布报告", "published": "2024-01-04"},
    ], ensure_ascii=False), "utf-8")
    import_file(sessions, config, path)
    with sessions() as session:
        slugs = sorted(session.scalars(select(Release.slug)))
    assert slugs == ["decent-work-green-jobs-in-china",
                     "guo-ji-lao-gong-zu-zhi-zai-bei-jing-fa-bu-bao-gao",
                     "guo-ji-lao-gong-zu-zhi-zai-bei-jing-fa-bu-bao-gao-2024-01-04",
                     "mongol-ulsyn-khodolmoriin-zakh-zeel"]


def test_a_file_imported_again_unchanged_is_not_read_but_any_change_is_seen(tmp_path, sessions, config_path) -> None:  # type: ignore[no-untyped-def]
    from helpers import set_keys

    from publisher.config import load_config

    path = tmp_path / "news.txt"
    path.write_bytes(SEED.read_bytes())

    def again(config: Config) -> tuple[ImportCounts, int]:
        read: list[int] = []
        [(_, counts)] = import_files(sessions, config, [ImportRequest(str(path))], NOW, read.append).files
        return counts, sum(read)

    config = load_config(config_path, environ={})
    assert again(config) == (ImportCounts(new=20), path.stat().st_size)
    assert again(config) == (ImportCounts(unchanged=20), 0)  # the same bytes: not read again
    # Another import changes one of its releases: the file is read, and says what it said.
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"title": "ILO supports inclusion of musculoskeletal disorders into the list "
                                  "of occupational diseases in China", "published": "2022-06-16",
                                  "summary": "Changed."}]))
    assert import_file(sessions, config, other).updated == 1
    assert again(config) == (ImportCounts(updated=1, unchanged=19), path.stat().st_size)
    set_keys(config_path, "tagging", default_countries='["MN"]')  # other rules
    assert again(load_config(config_path, environ={}))[1] == path.stat().st_size
    path.write_bytes(SEED.read_bytes() + b"\n")  # other bytes
    assert again(config)[1] == path.stat().st_size


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=60))
def test_the_fast_ascii_slug_is_python_slugifys(text: str) -> None:
    from slugify import slugify as python_slugify

    from publisher.ingest.slugs import latin_slug

    assert latin_slug(text) == python_slugify(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["ILO", "decent", "work", "中国", "Монгол", "é", "x" * 79, "y" * 80, "z" * 85]),
                max_size=30))
def test_a_long_title_is_cut_at_the_last_whole_word_that_fits(words: list[str]) -> None:
    from publisher.ingest.slugs import latin_slug, slugify

    whole = latin_slug(" ".join(words).replace("中国", "zhong guo"))
    slug = slugify(" ".join(words))
    assert len(slug) <= 80
    if whole:
        assert whole.startswith(slug)
        fits = [cut for cut in range(1, 81) if cut == len(whole) or whole[cut:cut + 1] == "-"]
        assert slug == whole[:fits[-1]] if fits else slug == whole[:80]
    else:
        assert slug == "release"


def test_every_format_the_config_and_the_cli_offer_has_a_parser() -> None:
    from publisher.config.model import INPUT_FORMATS
    from publisher.ingest.read import PARSERS

    assert set(PARSERS) == set(INPUT_FORMATS)
