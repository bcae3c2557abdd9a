"""The typed, immutable configuration: one frozen model per section of config.toml."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr, quote
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, IPvAnyNetwork, model_validator

from publisher.config.values import (
    BaseUrl,
    CountingWindow,
    CountryCode,
    Cron,
    Duration,
    EnvName,
    NonEmpty,
    OptionalUrl,
    ReplyTimeout,
    RetryDelay,
    SessionLifetime,
    TimeZoneName,
    Translations,
    UtmValue,
    Window,
    check_location,
)
from publisher.errors import UnknownCountry, UnknownDigest

InputFormat = Literal["listing", "json", "csv", "html", "feed"]  # ingest.read.PARSERS reads each
INPUT_FORMATS: tuple[str, ...] = get_args(InputFormat)


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Site(Section):
    name: NonEmpty = "Press releases"
    names: Translations = {}  # the name in Chinese (zh_Hans) and Mongolian (mn), for their readers
    # Where this service answers: release pages, feeds, subscription and unsubscribe links.
    base_url: BaseUrl = "http://127.0.0.1:8080"
    # The office's own site (its name in tag: ids, Message-IDs and List-Ids; "visit our site"
    # links); empty: base_url.
    home_url: OptionalUrl = ""
    timezone: TimeZoneName = "UTC"
    language: NonEmpty = "en"

    @property
    def home(self) -> str:
        return self.home_url or self.base_url

    def name_in(self, language: str) -> str:
        return self.names.get(language, self.name)

    def sender_in(self, sender: str, language: str) -> str:
        """`sender` (mail.sender), its display name in `language` when it is the office's name
        and `names` has it in that language (quoted: a comma in a name is no address list)."""
        name, address = parseaddr(sender)
        if name != self.name or language not in self.names:
            return sender
        return f'"{quote(self.names[language])}" <{address}>'

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
    exclude: tuple[NonEmpty, ...] = ()  # phrases that hold a keyword but are not this country


class Tagging(Section):
    default_countries: tuple[CountryCode, ...] = ()
    # Proper names that contain a country's name but say nothing of where a release happened
    # (the office's own name, in site.name and site.names, is always one).
    ignore: tuple[NonEmpty, ...] = ()


class Bucket(Section):
    """An S3-compatible bucket every build copies the feeds to, for a CDN; no endpoint: none."""
    endpoint: OptionalUrl = ""  # the S3 API: "https://s3.eu-west-1.amazonaws.com", a MinIO's address
    bucket: Annotated[str, Field(pattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")] = ""
    prefix: Annotated[str, Field(pattern=r"^$|^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$")] = "feeds/"
    region: NonEmpty = "us-east-1"
    key_id_env: EnvName = "AWS_ACCESS_KEY_ID"  # the credentials come from these variables
    secret_env: EnvName = "AWS_SECRET_ACCESS_KEY"

    @model_validator(mode="after")
    def _named(self) -> Bucket:
        if self.endpoint and not self.bucket:
            raise ValueError("an endpoint needs a bucket: set feeds.publish.bucket")
        return self


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
    publish: Bucket = Bucket()  # copied after each build to an S3-compatible bucket

    def url(self, site: Site) -> str:
        return self.base_url or f"{site.base_url}/feeds"


class Digest(Section):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    countries: Annotated[tuple[CountryCode, ...], Field(min_length=1)]
    cron: Cron
    timezone: TimeZoneName
    max_items: Annotated[int, Field(ge=1, le=500)] = 20
    subject: NonEmpty = "{releases} ({dates})"
    subjects: Translations = {}  # `subject` for readers of Chinese (zh_Hans) and Mongolian (mn)
    title: str = ""  # the heading of the email; empty: "{site.name}: {country names}"
    titles: Translations = {}
    # A first edition carries releases published this long before it, no older (see
    # digest/select.py for the whole rule); `publisher digest start NAME --from DATE` overrides it.
    first_edition_window: Window = timedelta(days=14)
    # Each release's picture (its image_url over https) above its title, linked to it, sized for
    # mail; the reader's mail program loads it from where it is hosted.
    pictures: bool = False
    # Each link of the mail goes through {site.base_url}/r/..., counted without knowing who
    # clicked (publisher/clicks/); false: the mail links directly.
    track_links: bool = True
    # Clicks are counted for this long after an edition is made; then its per-message values
    # are folded into counts per link and deleted.
    count_clicks_for: CountingWindow = timedelta(days=30)
    # Added to the mail's links to the office's site (site.home_url) and this one, for their
    # own web analytics; empty: not added.
    utm_source: UtmValue = ""
    utm_medium: UtmValue = ""
    utm_campaign: UtmValue = ""


class Smtp(Section):
    host: str = ""  # empty: no SMTP server, mail goes to the outbox folder
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_env: EnvName = "PUBLISHER_SMTP_PASSWORD"
    timeout: ReplyTimeout = timedelta(seconds=30)  # for each reply of the server
    ca_file: str = ""  # certificates to trust for TLS besides the system's (an internal relay)
    connections: Annotated[int, Field(ge=1, le=64)] = 4  # sent over in parallel
    rate_limit: Annotated[float, Field(ge=0)] = 0.0  # messages per second in all; 0: no limit
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5  # for temporary (4xx) failures
    retry_delay: RetryDelay = timedelta(seconds=60)  # doubled after each attempt
    lease: Duration = timedelta(seconds=60)  # a sender's claim on deliveries; renewed while it runs
    # While the server cannot be reached, deliveries wait (attempts are not counted) and it is
    # tried again after 1 s, 2 s, 4 s ... up to this.
    reconnect_max: Duration = timedelta(minutes=5)


class Mail(Section):
    sender: NonEmpty = "Press releases <noreply@localhost>"
    outbox: NonEmpty = "outbox"
    templates: str = ""  # an operator's own template folder; empty: templates/email
    unsubscribe_mailto: str = ""  # the mailto: address in List-Unsubscribe; empty: the sender
    # The envelope sender of every digest and confirmation: `bounces@example.org` makes each
    # `bounces+<signed delivery>@example.org` (VERP), so a bounce says whose it is; empty: the
    # sender's address, and bounces can only be matched by the address they name.
    bounce_address: str = ""
    dkim_domain: str = ""  # DKIM signing when domain, selector and the key are all given
    dkim_selector: str = ""
    dkim_key_env: EnvName = "PUBLISHER_DKIM_KEY"  # variable holding the PEM private key


FolderName = Annotated[str, Field(pattern=r"^[ -~]+$")]  # printable ASCII: no IMAP UTF-7 needed


class Imap(Section):
    host: str = ""  # empty: no IMAP mailbox
    port: Annotated[int, Field(ge=1, le=65535)] = 993
    security: Literal["tls", "starttls"] = "tls"  # tls: IMAPS (993); starttls: IMAP (143) then TLS
    user_env: EnvName = "PUBLISHER_IMAP_USER"  # the login comes from these variables, never the file
    password_env: EnvName = "PUBLISHER_IMAP_PASSWORD"
    ca_file: str = ""  # certificates to trust besides the system's (a private CA)
    timeout: ReplyTimeout = timedelta(seconds=30)
    folder: FolderName = "INBOX"
    handled_folder: FolderName = "handled"  # where each handled message is moved
    rejected_folder: FolderName = "rejected"  # where each kept-aside message is moved


class Bounces(Section):
    # Soft bounces (4xx until smtp.max_attempts ran out) in this many editions in a row stop
    # mail to the address, as one hard bounce (5xx) or complaint does at once.
    soft_limit: Annotated[int, Field(ge=1, le=100)] = 3
    # A Maildir folder the bounce address delivers into (relative to the config file); empty:
    # none. `publisher bounces fetch` reads it, moving each message it handled to `.handled`
    # and each it could not use to `.rejected`.
    maildir: str = ""
    imap: Imap = Imap()  # a mailbox the bounce address delivers into, read the same way
    cron: Cron | None = None  # `publisher run` fetches both on this schedule (site zone)


class Secrets(Section):
    signing_key_env: EnvName = "PUBLISHER_SECRET_KEY"
    # Without the variable, a random key is made once and kept in this file (mode 0600).
    key_file: NonEmpty = "secret.key"


class Source(Section):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    # A file path (relative to the config file), an http(s) URL, or `bundled:NAME` for the
    # sample data that ships with the package.
    location: Annotated[str, AfterValidator(check_location)]
    # "html": the office's news page as HTML (the listing, with each title linked).
    format: InputFormat | None = None
    cron: Cron | None = None
    timeout: Duration = timedelta(seconds=30)  # for http(s)
    max_bytes: Annotated[int, Field(ge=1)] = 5_000_000  # a larger response is refused
    # After each import, the page of each new or changed release fetched and its article and lead
    # picture kept (ingest/pages.py), politely: robots.txt, one page at a time, this far apart.
    fetch_pages: bool = False
    page_delay: Duration = timedelta(seconds=1)
    # A feed's categories that say a country, besides its code and name (any case):
    # { "Ulaanbaatar office" = "MN" }.
    categories: dict[NonEmpty, CountryCode] = {}

    @property
    def is_remote(self) -> bool:
        return self.location.startswith(("http://", "https://"))


class Scheduler(Section):
    # A digest whose fire time passed while no scheduler ran is sent once on start if it is
    # at most this late; otherwise it waits for its next fire time (nothing is lost either way).
    misfire_grace: Duration = timedelta(hours=6)
    standby_poll: Duration = timedelta(seconds=5)  # how often a standby process tries to take over
    # How often a running scheduler looks for digests added, changed or retired (console, API).
    changes_poll: Duration = timedelta(seconds=5)
    progress_every: Duration = timedelta(seconds=30)  # a line of how a long send goes, this often
    # false: the scheduler only makes editions and queues their deliveries, and `publisher
    # worker` processes (any number, on any machine) send them.
    send_in_process: bool = True


class Web(Section):
    enabled: bool = False  # `publisher run` serves the web app too
    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    cache_max_age: Duration = timedelta(minutes=5)  # Cache-Control: max-age of the feed files
    access_log: bool = True  # a line per request from `serve` and `run` (with its start-up line)
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed; empty:
    # none (the client address is the connection's, so nobody can pick their own).
    trusted_proxies: tuple[NonEmpty, ...] = ()
    # A console (/admin) session ends after this long without a request.
    session_idle: Duration = timedelta(minutes=30)
    # ... and after this long however busy: signing in again is asked for once a working day.
    session_lifetime: SessionLifetime = timedelta(hours=12)
    # Clients that read /metrics without signing in (addresses or networks); others need a token.
    metrics_from: tuple[IPvAnyNetwork, ...] = (IPv4Network("127.0.0.1/32"), IPv6Network("::1/128"))


def country_in(countries: tuple[Country, ...], code: str) -> Country:
    """The configured country `code`; UnknownCountry naming those there are."""
    for country in countries:
        if country.code == code:
            return country
    raise UnknownCountry(f"unknown country {code!r}; the config has "
                         f"{', '.join(c.code for c in countries) or 'none'}")


class Config(Section):
    site: Site = Site()
    database: Database = Database()
    countries: tuple[Country, ...] = ()
    tagging: Tagging = Tagging()
    feeds: Feeds = Feeds()
    digests: tuple[Digest, ...] = ()
    smtp: Smtp = Smtp()
    mail: Mail = Mail()
    bounces: Bounces = Bounces()
    secrets: Secrets = Secrets()
    sources: tuple[Source, ...] = ()
    scheduler: Scheduler = Scheduler()
    web: Web = Web()

    def country(self, code: str) -> Country:
        return country_in(self.countries, code)

    def digest(self, name: str) -> Digest:
        for digest in self.digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in self.digests) or "none"
        raise UnknownDigest(f"no digest named {name!r} in the config (it has: {known})")

    @property
    def country_codes(self) -> tuple[str, ...]:
        return tuple(country.code for country in self.countries)


