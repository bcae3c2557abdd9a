"""The project's own errors: each carries where the problem is, and the exit code it means."""

from __future__ import annotations


class PublisherError(Exception):
    """Base of every error the CLI reports as a message instead of a traceback."""

    exit_code = 1


class ConfigError(PublisherError):
    """The configuration cannot be used; nothing may start."""

    exit_code = 2

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


class InputError(PublisherError):
    """An input file (import) has an entry that cannot be used."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        location = f"{source}: {where}" if where else source
        super().__init__(f"{location}: {problem}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, str]]:
        return InputError, (self.source, self.where, self.problem)  # (sent by ingest/helper.py)


class StoreError(PublisherError):
    """The database cannot be reached or migrated."""


class UnknownCountry(PublisherError):
    """A country code the config does not have."""


class InvalidValue(PublisherError):
    """A value someone typed or imported that cannot be used: an address that is not one, an
    unknown status, no or unknown countries. The message says what was expected."""


class NotFound(PublisherError):
    """No such thing (a release, a subscriber) by the number asked for."""


class UnknownDigest(NotFound):
    """A digest name there is no digest of (or none in effect: retired)."""


class DigestPaused(PublisherError):
    """An operator paused the digest: nothing of it goes out until it is resumed."""


class TooMany(PublisherError):
    """More of something in a while than is allowed (a web page answers 429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
