"""Taking turns between processes: PostgreSQL advisory-lock keys, in one place so that no two
uses share one by accident, and the one way a transaction takes its turn on either database.

Any constants will do: each only has to be the same in every process that takes the lock.
"""

from __future__ import annotations

import sqlite3
import zlib

from sqlalchemy import Connection, text

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


def take_turn(connection: Connection, key: int) -> None:
    """Until the transaction ends, other processes taking the same turn wait. On PostgreSQL an
    advisory lock on `key`; on SQLite the database's write lock (it has one writer), taken now:
    Python 3.11's sqlite3 begins a transaction only at the first write, so without it the reads
    before that would each see the latest commit, and DDL would run outside any transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return
    driver = connection.connection.driver_connection
    if isinstance(driver, sqlite3.Connection) and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
