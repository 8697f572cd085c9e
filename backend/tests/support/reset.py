"""Emptying the test database between tests, with a clear failure instead of a hang when something holds a
table: TRUNCATE waits for every transaction that touched the tables, and one left open (a request waiting on
something else) would otherwise stall the whole run without a word."""

from __future__ import annotations

import asyncpg

LOCK_TIMEOUT = "120s"  # far beyond any test's own statements; only a transaction left open waits this long

_HOLDERS = """
SELECT pid, state, now() - xact_start AS open_for, left(query, 200) AS last_statement
  FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
 ORDER BY xact_start
"""


async def truncate(conn: asyncpg.Connection, tables: str) -> None:
    """TRUNCATE `tables` CASCADE on `conn`; if a lock cannot be had in LOCK_TIMEOUT, fail naming the open
    transactions that held it up."""
    await conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    try:
        await conn.execute(f"TRUNCATE {tables} CASCADE")
    except asyncpg.LockNotAvailableError:
        holders = [dict(r) for r in await conn.fetch(_HOLDERS)]
        raise AssertionError(f"could not empty the test database: transactions left open: {holders}") from None
    finally:
        await conn.execute("RESET lock_timeout")
