"""The shipped tagging measured on releases whose countries a person labelled: the bundled ones,
and more in English, Chinese and Mongolian (tests/data/tagging/), many naming the office itself
("ILO Country Office for China and Mongolia"), which places a release in neither country. A
reader must get no release of a country they did not choose: no false country at all."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from helpers import ROOT, SEED, sqlite_store, write_config

from publisher.cli import cli
from publisher.config import load_config
from publisher.ingest.entry import Entry
from publisher.ingest.listing import parse_listing
from publisher.ingest.rules import IngestConfig
from publisher.ingest.tagging import Tagger

LABELS = Path(__file__).parent / "data" / "tagging"
SHIPPED = ROOT / "publisher" / "data" / "config.toml"
WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def labelled() -> list[tuple[Entry, set[str]]]:
    config = load_config(SHIPPED, environ={})
    with open(LABELS / "bundled.csv", encoding="utf-8", newline="") as file:
        bundled = {row["title"]: set(row["countries"].split()) for row in csv.DictReader(file)}
    seed = parse_listing(SEED.read_text("utf-8"), "seed", config.site.zone)
    assert {entry.title for entry in seed} == set(bundled)  # every bundled release is labelled
    found = [(entry, bundled[entry.title]) for entry in seed]
    with open(LABELS / "more.csv", encoding="utf-8", newline="") as file:
        found += [(Entry(row["title"], WHEN, row["summary"]), set(row["countries"].split()))
                  for row in csv.DictReader(file)]
    return found


def test_the_shipped_tagging_gives_no_false_country_and_misses_none_on_the_labelled_releases() -> None:
    tagger = Tagger(IngestConfig.of(load_config(SHIPPED, environ={})))
    cases = labelled()
    assert len(cases) >= 60
    scripts = {"Latin": r"[A-Za-z]", "Han": r"[\u4e00-\u9fff]", "Cyrillic": r"[\u0400-\u04ff]"}
    assert all(sum(bool(re.search(pattern, entry.title)) for entry, _ in cases) >= 10 for pattern in scripts.values())
    true_positives = false_positives = false_negatives = 0
    wrong = []
    for entry, expected in cases:
        got = set(tagger.countries(entry, "labelled"))
        true_positives += len(got & expected)
        false_positives += len(got - expected)
        false_negatives += len(expected - got)
        if got != expected:
            wrong.append(f"{entry.title}: {sorted(got)}, labelled {sorted(expected)}")
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / (true_positives + false_negatives)
    print(f"tagging on {len(cases)} labelled releases: precision {precision:.3f}, recall {recall:.3f}")
    assert wrong == []
    assert (precision, recall) == (1.0, 1.0)


def test_the_office_naming_itself_puts_a_release_in_no_country_readers_did_not_choose(tmp_path: Path) -> None:
    path = write_config(tmp_path, sqlite_store(tmp_path))
    news = tmp_path / "news.json"
    news.write_text(json.dumps([
        {"title": "ILO Country Office for China and Mongolia holds a workshop on platform work in Hangzhou",
         "published": "2024-05-01"},
        {"title": "国际劳工组织中国和蒙古国局局长就国际妇女节发表致辞", "published": "2024-03-08"},
        {"title": "ILO Country Office for China and Mongolia supports labour law reform in Mongolia",
         "published": "2024-02-01"}]), "utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "import", str(news)]).exit_code == 0
    mongolia = runner.invoke(cli, ["--config", str(path), "releases", "list", "--country", "MN"])
    assert mongolia.exit_code == 0
    assert "labour law reform in Mongolia" in mongolia.output
    assert "Hangzhou" not in mongolia.output and "妇女节" not in mongolia.output
    china = runner.invoke(cli, ["--config", str(path), "releases", "list", "--country", "CN"]).output
    assert "Hangzhou" in china and "labour law reform" not in china
