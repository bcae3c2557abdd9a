"""The typed, immutable configuration, loaded once from config.toml.

Every problem is reported with the file and the key path (`digests[1].cron`), and all of them at
once, so an operator fixes the file in one go.
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from publisher.errors import ConfigError, UnknownCountry, UnknownDigest

CONFIG_ENV = "PUBLISHER_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"
BUNDLED_PREFIX = "bundled:"


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def _check_cron(expression: str) -> str:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"bad cron expression {expression!r}: {exc}") from None
    return expression


def _check_country_code(code: str) -> str:
    if len(code) != 2 or not code.isascii() or not code.isalpha() or not code.isupper():
        raise ValueError(f"expected a two-letter upper-case country code, got {code!r}")
    return code


def _check_base_url(url: str) -> str:
    if not url.startswith(("https://", "http://")) or len(url.split("/", 3)[2]) == 0:
        raise ValueError(f"expected an absolute http(s) URL, got {url!r}")
    return url.rstrip("/")


def _check_env_name(name: str) -> str:
    if not name or not all(c.isalnum() or c == "_" for c in name) or name[0].isdigit():
        raise ValueError(f"expected an environment variable name, got {name!r}")
    return name


def _check_location(location: str) -> str:
    if not location:
        raise ValueError("expected a file path, an http(s) URL or bundled:NAME")
    if location.startswith(("http://", "https://")):
        _check_base_url(location)
    return location


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
Cron = Annotated[str, AfterValidator(_check_cron)]
CountryCode = Annotated[str, AfterValidator(_check_country_code)]
BaseUrl = Annotated[str, AfterValidator(_check_base_url)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
NonEmpty = Annotated[str, Field(min_length=1)]


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _check_duration(text: str) -> str:
    number, unit = text[:-1], text[-1:]
    if unit not in _DURATION_UNITS or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"expected a duration such as \"90s\", \"30m\" or \"6h\", got {text!r}")
    return text


def seconds(duration: str) -> float:
    return float(duration[:-1]) * _DURATION_UNITS[duration[-1]]


Duration = Annotated[str, AfterValidator(_check_duration)]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Site(Section):
    name: NonEmpty = "Press releases"
    base_url: BaseUrl = "http://127.0.0.1:8080"
    timezone: TimeZoneName = "UTC"
    language: NonEmpty = "en"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Database(Section):
    url: NonEmpty = "sqlite:///publisher.db"
    # When this variable is set, its value replaces `url` (a URL with a password is a secret).
    url_env: EnvName = "PUBLISHER_DATABASE_URL"


class Country(Section):
    code: CountryCode
    name: NonEmpty
    timezone: TimeZoneName
    language: NonEmpty = "en"
    keywords: tuple[NonEmpty, ...] = ()


class Tagging(Section):
    default_countries: tuple[CountryCode, ...] = ()


def _check_optional_url(url: str) -> str:
    return _check_base_url(url) if url else url


OptionalUrl = Annotated[str, AfterValidator(_check_optional_url)]


class Feeds(Section):
    dir: NonEmpty = "feeds"
    max_items: Annotated[int, Field(ge=1, le=10_000)] = 50
    cron: Cron = "*/15 * * * *"
    # Where feeds/ is served; empty: {site.base_url}/feeds. Each feed's rel="self" link uses it.
    base_url: OptionalUrl = ""
    title: NonEmpty = "News: {country}"
    subtitle: NonEmpty = "Press releases of {site} about {country}"
    all_name: NonEmpty = "all countries"  # what {country} says in the feed of all countries
    icon: OptionalUrl = ""
    logo: OptionalUrl = ""
    hub: OptionalUrl = ""  # a WebSub hub: adds rel="hub" and pings it after changes
    archive: bool = False  # RFC 5005 archives, one Atom document per year

    def url(self, site: Site) -> str:
        return self.base_url or f"{site.base_url}/feeds"


class Digest(Section):
    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    countries: Annotated[tuple[CountryCode, ...], Field(min_length=1)]
    cron: Cron
    timezone: TimeZoneName
    max_items: Annotated[int, Field(ge=1, le=500)] = 20
    subject: NonEmpty = "{count} new releases ({start:%d %b} - {end:%d %b %Y})"
    title: str = ""  # the heading of the email; empty: "{site.name}: {country names}"


class Smtp(Section):
    host: str = ""  # empty: no SMTP server, mail goes to the outbox folder
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_env: EnvName = "PUBLISHER_SMTP_PASSWORD"
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    ca_file: str = ""  # certificates to trust for TLS besides the system's (an internal relay)
    connections: Annotated[int, Field(ge=1, le=64)] = 4  # sent over in parallel
    rate_limit: Annotated[float, Field(ge=0)] = 0.0  # messages per second in all; 0: no limit
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5  # for temporary (4xx) failures
    retry_delay: Annotated[float, Field(gt=0, le=86_400)] = 60.0  # doubled after each attempt
    lease: Duration = "60s"  # a sender's claim on deliveries; renewed while it runs
    # While the server cannot be reached, deliveries wait (attempts are not counted) and it is
    # tried again after 1 s, 2 s, 4 s ... up to this.
    reconnect_max: Duration = "5m"


class Mail(Section):
    sender: NonEmpty = "Press releases <noreply@localhost>"
    outbox: NonEmpty = "outbox"
    templates: str = ""  # an operator's own template folder; empty: templates/email
    unsubscribe_mailto: str = ""  # the mailto: address in List-Unsubscribe; empty: the sender
    dkim_domain: str = ""  # DKIM signing when domain, selector and the key are all given
    dkim_selector: str = ""
    dkim_key_env: EnvName = "PUBLISHER_DKIM_KEY"  # variable holding the PEM private key


class Secrets(Section):
    signing_key_env: EnvName = "PUBLISHER_SECRET_KEY"
    # Without the variable, a random key is made once and kept in this file (mode 0600).
    key_file: NonEmpty = "secret.key"





class Source(Section):
    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    # A file path (relative to the config file), an http(s) URL, or `bundled:NAME` for the
    # sample data that ships with the package.
    location: Annotated[str, AfterValidator(_check_location)]
    # "html": the office's news page as HTML (the listing, with each title linked).
    format: Literal["listing", "json", "csv", "html"] | None = None
    cron: Cron | None = None
    timeout: Duration = "30s"  # for http(s)
    max_bytes: Annotated[int, Field(ge=1)] = 5_000_000  # a larger response is refused

    @property
    def is_remote(self) -> bool:
        return self.location.startswith(("http://", "https://"))


class Scheduler(Section):
    # A digest whose fire time passed while no scheduler ran is sent once on start if it is
    # at most this late; otherwise it waits for its next fire time (nothing is lost either way).
    misfire_grace: Duration = "6h"
    standby_poll: Duration = "5s"  # how often a standby process tries to take over
    # false: the scheduler only makes editions and queues their deliveries, and `publisher
    # worker` processes (any number, on any machine) send them.
    send_in_process: bool = True


class Web(Section):
    enabled: bool = False  # `publisher run` serves the web app too
    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    cache_max_age: Duration = "5m"  # Cache-Control: max-age of the feed files


class Config(Section):
    site: Site = Site()
    database: Database = Database()
    countries: tuple[Country, ...] = ()
    tagging: Tagging = Tagging()
    feeds: Feeds = Feeds()
    digests: tuple[Digest, ...] = ()
    smtp: Smtp = Smtp()
    mail: Mail = Mail()
    secrets: Secrets = Secrets()
    sources: tuple[Source, ...] = ()
    scheduler: Scheduler = Scheduler()
    web: Web = Web()

    def country(self, code: str) -> Country:
        for country in self.countries:
            if country.code == code:
                return country
        raise UnknownCountry(f"unknown country {code!r}; the config has "
                             f"{', '.join(self.country_codes) or 'none'}")

    def digest(self, name: str) -> Digest:
        for digest in self.digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in self.digests) or "none"
        raise UnknownDigest(f"no digest named {name!r} in the config (it has: {known})")

    @property
    def country_codes(self) -> tuple[str, ...]:
        return tuple(country.code for country in self.countries)


def load_config(path: Path | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """Load the config: PATH, else $PUBLISHER_CONFIG, else ./config.toml, else the embedded defaults."""
    chosen = find_config(path, environ)
    if chosen is None:
        text = resources.files("publisher").joinpath("data/config.toml").read_text("utf-8")
        return parse_config(text, source="<embedded config.toml>", base_dir=Path.cwd())
    try:
        text = chosen.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(chosen), [f"cannot read: {exc}"]) from exc
    return parse_config(text, source=str(chosen), base_dir=chosen.resolve().parent)


def find_config(path: Path | None, environ: Mapping[str, str]) -> Path | None:
    if path is not None:
        return path
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.is_file() else None


def parse_config(text: str, source: str, base_dir: Path) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    problems = _secret_problems(raw)
    try:
        config = Config.model_validate(_lists_to_tuples(raw))
    except ValidationError as exc:
        raise ConfigError(source, problems + [_describe(error) for error in exc.errors()]) from None
    problems += _consistency_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return _resolve_paths(config, base_dir)


def _lists_to_tuples(value: Any) -> Any:
    # TOML arrays arrive as lists; the immutable model holds tuples.
    if isinstance(value, dict):
        return {key: _lists_to_tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(item) for item in value)
    return value


def _describe(error: Any) -> str:
    path = _key_path(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key"
    if error["type"] == "missing":
        return f"{path}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    return f"{path}: {message}" if path else message


def _key_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-after", "literal[", "union[", "tuple[")):
            continue  # pydantic's names for validators, not keys of the file
        else:
            path += f".{part}" if path else str(part)
    return path


def _secret_problems(raw: Mapping[str, Any]) -> list[str]:
    smtp = raw.get("smtp")
    if isinstance(smtp, dict) and "password" in smtp:
        return ["smtp.password: secrets are never read from the config file; "
                "set the variable named by smtp.password_env instead"]
    return []


def _consistency_problems(config: Config) -> list[str]:
    problems = _duplicates("countries", "code", [c.code for c in config.countries])
    problems += _duplicates("digests", "name", [d.name for d in config.digests])
    problems += _duplicates("sources", "name", [s.name for s in config.sources])
    known = set(config.country_codes)
    for i, code in enumerate(config.tagging.default_countries):
        if code not in known:
            problems.append(f"tagging.default_countries[{i}]: unknown country {code!r}")
    for i, digest in enumerate(config.digests):
        for j, code in enumerate(digest.countries):
            if code not in known:
                problems.append(f"digests[{i}].countries[{j}]: unknown country {code!r}")
        problems += _subject_problems(f"digests[{i}].subject", digest.subject)
    problems += _placeholder_problems("feeds.title", config.feeds.title, {"country", "site"})
    problems += _placeholder_problems("feeds.subtitle", config.feeds.subtitle, {"country", "site"})
    return problems


def _duplicates(table: str, key: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, value in enumerate(values):
        if value in seen:
            problems.append(f"{table}[{i}].{key}: duplicate {key} {value!r}")
        seen.add(value)
    return problems


def _placeholder_problems(path: str, template: str, allowed: set[str]) -> list[str]:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        return [f"{path}: {exc}"]
    unknown = fields - allowed
    if unknown:
        names = ", ".join(f"{{{name}}}" for name in sorted(allowed))
        return [f"{path}: unknown placeholder {{{sorted(unknown)[0]}}}; use {names}"]
    return []


def _subject_problems(path: str, subject: str) -> list[str]:
    problems = _placeholder_problems(path, subject, {"count", "start", "end", "name"})
    if problems:
        return problems
    sample = datetime(2024, 1, 1)
    try:
        subject.format(count=1, start=sample, end=sample, name="digest")
    except (ValueError, IndexError) as exc:
        return [f"{path}: {exc}"]
    return []


def _resolve_paths(config: Config, base_dir: Path) -> Config:
    """Relative paths in the file mean: relative to the file's own folder."""
    url = config.database.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        db_path = url[len(prefix):]
        if db_path and not Path(db_path).is_absolute():
            url = prefix + str(base_dir / db_path)
    return config.model_copy(update={
        "database": config.database.model_copy(update={"url": url}),
        "feeds": config.feeds.model_copy(update={"dir": str(base_dir / config.feeds.dir)}),
        "mail": config.mail.model_copy(update={
            "outbox": str(base_dir / config.mail.outbox),
            "templates": str(base_dir / config.mail.templates) if config.mail.templates else "",
        }),
        "smtp": config.smtp.model_copy(
            update={"ca_file": str(base_dir / config.smtp.ca_file) if config.smtp.ca_file else ""}),
        "secrets": config.secrets.model_copy(
            update={"key_file": str(base_dir / config.secrets.key_file)}),
        "sources": tuple(
            source if source.location.startswith(BUNDLED_PREFIX) or source.is_remote
            else source.model_copy(update={"location": str(base_dir / source.location)})
            for source in config.sources
        ),
    })

