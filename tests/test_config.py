"""config.toml: the shipped default, the embedded copy, and errors that name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SHIPPED_CONFIG
from pydantic import ValidationError

from publisher.cli import cli
from publisher.config import load_config, parse_config
from publisher.errors import ConfigError


def test_shipped_config_is_the_china_and_mongolia_office() -> None:
    config = load_config(SHIPPED_CONFIG, environ={})
    assert [(c.code, c.name, c.timezone) for c in config.countries] == [
        ("CN", "China", "Asia/Shanghai"), ("MN", "Mongolia", "Asia/Ulaanbaatar")]
    assert config.site.base_url == "http://127.0.0.1:8080" and config.web.enabled  # served here
    assert config.site.home_url == "https://www.ilo.org/beijing"
    assert config.smtp.host == ""
    assert config.digests and config.feeds.max_items == 50
    assert config.database.url == f"sqlite:///{SHIPPED_CONFIG.parent / 'publisher.db'}"


def test_embedded_defaults_are_the_shipped_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    embedded = load_config(None, environ={})
    shipped = parse_config(SHIPPED_CONFIG.read_text("utf-8"), "config.toml", tmp_path)
    assert embedded == shipped
    packaged = SHIPPED_CONFIG.parent / "publisher" / "data" / "config.toml"
    assert packaged.read_bytes() == SHIPPED_CONFIG.read_bytes(), (
        "the package embeds a copy of config.toml: copy it to publisher/data/ after editing it")
    assert embedded.database.url == f"sqlite:///{tmp_path / 'publisher.db'}"


def test_config_is_immutable() -> None:
    config = load_config(SHIPPED_CONFIG, environ={})
    with pytest.raises(ValidationError, match="frozen"):
        config.site.name = "other"  # type: ignore[misc]


def test_environment_variable_picks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text('[site]\nname = "Other office"\n', "utf-8")
    assert load_config(None, environ={"PUBLISHER_CONFIG": str(path)}).site.name == "Other office"


def _problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "config.toml", Path("/tmp"))
    return str(caught.value)


DIGEST = '[[digests]]\nname = "{name}"\ncountries = ["CN"]\ncron = "{cron}"\ntimezone = "{tz}"\n'
COUNTRY = '[[countries]]\ncode = "CN"\nname = "China"\ntimezone = "Asia/Shanghai"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (COUNTRY + DIGEST.format(name="a", cron="0 9 * * MON", tz="UTC")
         + DIGEST.format(name="b", cron="0 9 * *", tz="UTC"),
         "config.toml: digests[1].cron: expected 5 fields, got 4"),
        (COUNTRY + DIGEST.format(name="a", cron="0 25 * * *", tz="UTC"),
         "config.toml: digests[0].cron: bad cron expression '0 25 * * *'"),
        (COUNTRY + DIGEST.format(name="a", cron="0 9 * * *", tz="Mars/Olympus"),
         "config.toml: digests[0].timezone: unknown time zone 'Mars/Olympus'"),
        (COUNTRY + DIGEST.format(name="a", cron="0 9 * * *", tz="UTC")
         + DIGEST.format(name="a", cron="0 9 * * *", tz="UTC"),
         "config.toml: digests[1].name: duplicate name 'a'"),
        ("[feeds]\nmax_item = 5\n", "config.toml: feeds.max_item: unknown key"),
        ("[feeds]\nmax_items = \"50\"\n", "config.toml: feeds.max_items: Input should be a valid integer"),
        ("[site]\nbase_url = \"www.example.org\"\n", "config.toml: site.base_url: expected an absolute"),
        ("[smtp]\npassword = \"hunter2\"\n", "config.toml: smtp.password: secrets are never read"),
        ('[[countries]]\ncode = "CN"\nname = "China"\n', "config.toml: countries[0].timezone: required key is missing"),
        ('[tagging]\ndefault_countries = ["XX"]\n', "config.toml: tagging.default_countries[0]: unknown country 'XX'"),
        (COUNTRY + DIGEST.format(name="a", cron="0 9 * * *", tz="UTC") + 'subject = "{total} new"\n',
         "config.toml: digests[0].subject: unknown placeholder {total}"),
        ("[site\nname = 1\n", "config.toml: not valid TOML"),
        ('[smtp]\nsecurity = "ssl"\n', "config.toml: smtp.security: Input should be 'starttls', 'tls' or 'none'"),
        ('[[sources]]\nname = "web"\nlocation = "https://"\n',
         "config.toml: sources[0].location: expected an absolute http(s) URL"),
        ('[[sources]]\nname = "web"\nlocation = "https://x.org/n"\ntimeout = "soon"\n',
         "config.toml: sources[0].timeout: expected a duration such as"),
    ],
)
def test_errors_name_the_file_and_key_path(text: str, message: str) -> None:
    assert message in _problems(text)


def test_every_problem_is_reported_at_once() -> None:
    lines = _problems('[feeds]\nmax_items = 0\ncolour = "red"\n').splitlines()
    assert len(lines) == 2
    assert all(line.startswith("config.toml: feeds.") for line in lines)


def test_bad_config_stops_the_cli_with_exit_code_2_and_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COUNTRY + DIGEST.format(name="a", cron="0 9 * *", tz="UTC"), "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "run"])
    assert result.exit_code == 2
    assert f"{path}: digests[0].cron: expected 5 fields, got 4" in result.stderr
    assert not (tmp_path / "publisher.db").exists()


def test_config_check_reports_what_it_holds() -> None:
    result = CliRunner().invoke(cli, ["--config", str(SHIPPED_CONFIG), "config", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("config OK: 2 countries, 2 digests, 1 source, database sqlite:///")
