"""PostgreSQL advisory-lock keys, in one place so that no two uses share one by accident.

Any constants will do: each only has to be the same in every process that takes the lock.
"""

from __future__ import annotations

import zlib

MIGRATIONS = 0x7075626C  # "publ": one process at a time creates or migrates the tables
SCHEDULER = 0x70756273  # "pubs": the one active `publisher run` of a database
_EDITIONS = 0x65646974  # "edit": opening an edition, per digest
_LIMITS = 0x6C696D74  # "limt": counting one key's requests


def edition_key(digest: str) -> int:
    """Processes opening an edition of one digest take turns on this key."""
    return (_EDITIONS << 32) | zlib.crc32(digest.encode())


def limit_key(key_hash: str) -> int:
    """Processes counting requests of one key take turns on this key."""
    return (_LIMITS << 32) | zlib.crc32(key_hash.encode())
