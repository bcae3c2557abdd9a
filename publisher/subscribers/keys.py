"""The site's signing key: from the environment, or made once and kept in secrets.key_file
(readable by its owner only), so a single machine works out of the box. It signs the links in
mail and seals the form cookies; a key that is empty, short or plainly not random is refused."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from publisher.config import Secrets
from publisher.errors import PublisherError

log = logging.getLogger(__name__)

MIN_KEY_LENGTH = 32  # characters; a generated key has 64
MIN_KEY_BITS = 96  # as _bits counts them: a key with fewer is refused


class KeyProblem(PublisherError):
    """The signing key cannot be trusted: links signed with it could be forged."""

    exit_code = 2


def signing_key(secrets: Secrets, environ: Mapping[str, str] = os.environ) -> str:
    """The key from the variable secrets.signing_key_env names; without it, the one kept in
    secrets.key_file, made (atomically) the first time. An empty or short key is refused."""
    name = secrets.signing_key_env
    key = environ.get(name)
    if key is not None:
        return _checked(key, f"the variable {name}")
    path = Path(secrets.key_file)
    if not path.exists():
        _make_key_file(path)
        log.warning("%s is not set: made a signing key in %s (set the variable in production)",
                    name, path)
    return _checked(path.read_text("utf-8").strip(), str(path))


def _checked(key: str, where: str) -> str:
    if len(key.strip()) < MIN_KEY_LENGTH:
        raise KeyProblem(f"{where}: the signing key is {'empty' if not key.strip() else 'too short'} "
                         f"(at least {MIN_KEY_LENGTH} characters are needed); set a long random "
                         "value, or delete the file to have one made")
    if _bits(key.strip()) < MIN_KEY_BITS:
        raise KeyProblem(f"{where}: the signing key is not random enough (a character repeated, or a "
                         "pattern: anyone could guess it); set a long random value, for example "
                         "`openssl rand -base64 48`")
    return key


def _bits(key: str) -> float:
    """How many bits the key holds at most, by how often each of its characters occurs (32
    times "a" holds none; 32 random hexadecimal digits about 120)."""
    counts = Counter(key)
    return -sum(count * math.log2(count / len(key)) for count in counts.values())


def _make_key_file(path: Path) -> None:
    """Write a new key to a temporary file, flush it to disk, then link it into place: the file
    appears whole or not at all, and when several processes start at once the first link wins
    and every process reads that one key."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: keep theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
