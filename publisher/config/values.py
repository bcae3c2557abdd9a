"""The value types of the config: each checks one kind of value and says what it expected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field

from publisher.crontab import checked
from publisher.languages import LANGUAGES


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def _check_cron(expression: str) -> str:
    return checked(expression)  # as crontab(5) reads it (crontab.py)


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


def check_location(location: str) -> str:
    if not location:
        raise ValueError("expected a file path, an http(s) URL or bundled:NAME")
    if location.startswith(("http://", "https://")):
        _check_base_url(location)
    return location


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
def _check_translations(texts: dict[str, str]) -> dict[str, str]:
    for language, text in texts.items():
        if language not in LANGUAGES[1:]:
            raise ValueError(f"expected a language among {', '.join(LANGUAGES[1:])}, got {language!r}")
        if not text.strip():
            raise ValueError(f"the {language} text is empty")
    return texts


Cron = Annotated[str, AfterValidator(_check_cron)]
# A text in the other languages readers read: `{ zh_Hans = "...", mn = "..." }`.
Translations = Annotated[dict[str, str], AfterValidator(_check_translations)]
CountryCode = Annotated[str, AfterValidator(_check_country_code)]
BaseUrl = Annotated[str, AfterValidator(_check_base_url)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
NonEmpty = Annotated[str, Field(min_length=1)]


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> object:
    """"90s", "30m", "6h", "1d", or a plain number of seconds, as a timedelta; anything else
    is left for validation to refuse."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value
    number, unit = value[:-1], value[-1:]
    if unit not in _DURATION_UNITS or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"expected a duration such as \"90s\", \"30m\" or \"6h\", got {value!r}")
    return timedelta(seconds=float(number) * _DURATION_UNITS[unit])


def _between(low: timedelta, high: timedelta, *, zero: bool = False
             ) -> Callable[[timedelta], timedelta]:
    def check(value: timedelta) -> timedelta:
        if not (low < value <= high or (zero and value == low)):
            least = "at least" if zero else "more than"
            raise ValueError(f"expected {least} {low.total_seconds():g} s and at most "
                             f"{high.total_seconds():g} s, got {value.total_seconds():g} s")
        return value
    return check


Duration = Annotated[timedelta, BeforeValidator(parse_duration),
                     AfterValidator(_between(timedelta(0), timedelta(days=365)))]

# How far back a first edition reaches; zero: only what is published from then on.
Window = Annotated[timedelta, BeforeValidator(parse_duration),
                   AfterValidator(_between(timedelta(0), timedelta(days=3660), zero=True))]

# How long an edition's clicks are counted (digest.count_clicks_for).
CountingWindow = Annotated[timedelta, BeforeValidator(parse_duration),
                           AfterValidator(_between(timedelta(minutes=59), timedelta(days=366)))]

# A utm_* value added to links (no control characters; it is quoted into the URL).
UtmValue = Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]

# A reply to any SMTP command may take up to 10 minutes (RFC 5321 4.5.3.2).
ReplyTimeout = Annotated[timedelta, BeforeValidator(parse_duration),
                         AfterValidator(_between(timedelta(0), timedelta(minutes=10)))]
RetryDelay = Annotated[timedelta, BeforeValidator(parse_duration),
                       AfterValidator(_between(timedelta(0), timedelta(days=1)))]
# A console session's whole life (its rows are forgotten after a week in any case).
SessionLifetime = Annotated[timedelta, BeforeValidator(parse_duration),
                            AfterValidator(_between(timedelta(0), timedelta(days=7)))]


def _check_optional_url(url: str) -> str:
    return _check_base_url(url) if url else url


OptionalUrl = Annotated[str, AfterValidator(_check_optional_url)]
