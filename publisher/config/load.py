"""Loading config.toml once: every problem reported with the file and the key path
(`digests[1].cron`), all of them at once, so an operator fixes the file in one go."""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from publisher.bundled import BUNDLED_PREFIX
from publisher.config.model import Config, Digest, Source
from publisher.errors import ConfigError

CONFIG_ENV = "PUBLISHER_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"


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
        problems += _digest_problems(f"digests[{i}]", digest, known)
    for i, source in enumerate(config.sources):
        problems += source_problems(f"sources[{i}]", source, known)
    problems += _placeholder_problems("feeds.title", config.feeds.title, {"country", "site"})
    problems += _placeholder_problems("feeds.subtitle", config.feeds.subtitle, {"country", "site"})
    return problems + _bounce_problems(config)


def check_digest(values: Mapping[str, Any], known: Iterable[str], source: str) -> Digest:
    """One digest as an operator wrote it (a console form, the API, a file to apply), checked
    exactly as config.toml's `[[digests]]` are; ConfigError naming each key otherwise."""
    try:
        digest = Digest.model_validate(_lists_to_tuples(dict(values)))
    except ValidationError as exc:
        raise ConfigError(source, [_describe(error) for error in exc.errors()]) from None
    problems = _digest_problems("", digest, set(known))
    if problems:
        raise ConfigError(source, problems)
    return digest


def check_source(values: Mapping[str, Any], known: Iterable[str], source: str) -> Source:
    """One source as an operator wrote it (a console form, the API), checked exactly as
    config.toml's `[[sources]]` are (`known`: the countries); ConfigError naming each key otherwise."""
    try:
        checked = Source.model_validate(_lists_to_tuples(dict(values)))
    except ValidationError as exc:
        raise ConfigError(source, [_describe(error) for error in exc.errors()]) from None
    problems = source_problems("", checked, set(known))
    if problems:
        raise ConfigError(source, problems)
    return checked


def source_problems(path: str, source: Source, known: set[str]) -> list[str]:
    prefix = f"{path}." if path else ""
    return [f"{prefix}categories.{word}: unknown country {code!r}"
            for word, code in source.categories.items() if code not in known]


def _digest_problems(path: str, digest: Digest, known: set[str]) -> list[str]:
    prefix = f"{path}." if path else ""
    problems = [f"{prefix}countries[{j}]: unknown country {code!r}"
                for j, code in enumerate(digest.countries) if code not in known]
    return problems + _subject_problems(f"{prefix}subject", digest.subject)


def _bounce_problems(config: Config) -> list[str]:
    """Reading bounces needs the signed return paths: without them a report's author could
    name anyone, and anyone can write to a bounce mailbox."""
    if config.mail.bounce_address:
        return []
    return [f"{key}: bounces are read only when mail.bounce_address is set (each delivery's return path "
            "then carries a signed mark; without it a forged report could stop anyone's mail)"
            for key, value in (("bounces.maildir", config.bounces.maildir),
                               ("bounces.imap.host", config.bounces.imap.host)) if value]


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
    problems = _placeholder_problems(path, subject, {"count", "start", "end", "name", "releases", "dates"})
    if problems:
        return problems
    sample = datetime(2024, 1, 1)
    try:
        subject.format(count=1, start=sample, end=sample, name="digest", releases="1 new release",
                       dates="01 Jan 2024")
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
        "bounces": config.bounces.model_copy(
            update={"maildir": str(base_dir / config.bounces.maildir) if config.bounces.maildir else ""}),
        "sources": tuple(
            source if source.location.startswith(BUNDLED_PREFIX) or source.is_remote
            else source.model_copy(update={"location": str(base_dir / source.location)})
            for source in config.sources
        ),
    })

