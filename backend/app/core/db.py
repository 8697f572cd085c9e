"""Database connections: the URL (or an embedded PostgreSQL), the SQLAlchemy engine and raw asyncpg pools.

The ORM serves CRUD in the API; the queue's hot path talks to asyncpg directly (see `app.worker.queue`).
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.core.config import Settings

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "skiplock"
_embedded_lock = threading.Lock()
_embedded_server: Any = None


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the pgserver PostgreSQL in `data_dir` and return a plain postgresql:// URL.

    Several processes (API, workers) share one server: pgserver finds the running postmaster by its data dir
    and stops it when the last process using it exits.
    """
    global _embedded_server
    with _embedded_lock:
        if _embedded_server is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded PostgreSQL in %s", data_dir)
            # Its chatter (platformdirs' warnings about the runtime directory, pgserver's INFO blocks, shown at
            # DEBUG by app.core.logging) says nothing a developer must act on.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                import pgserver  # heavy import, only when needed

                _embedded_server = pgserver.get_server(data_dir, cleanup_mode="stop")
            for warning in caught:
                log.debug("embedded PostgreSQL: %s", warning.message)
            _forget_dead_users(_embedded_server)
        server = _embedded_server
    base = server.get_uri()
    _ensure_database(server, EMBEDDED_DB_NAME)
    return str(base).replace("/postgres?", f"/{EMBEDDED_DB_NAME}?", 1)


def _forget_dead_users(server: Any) -> None:
    """pgserver stops the server when the last process using it exits, counting users in a file; a process
    that was killed never removes itself, which would keep the server up for good. Drop the dead ones."""
    import psutil

    with server._lock:
        users = server.global_process_id_list
        users.put([pid for pid in users.get() if psutil.pid_exists(pid)])


def _ensure_database(server: Any, name: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{name}";')


def resolve_database_url(settings: Settings) -> str:
    """The postgresql:// URL to use: DATABASE_URL, or the embedded server in development."""
    _check_direct_url(settings)
    if settings.database_url:
        return plain_url(settings.database_url)
    if settings.is_production:
        raise ConfigurationError(
            "DATABASE_URL is not set. In production Skiplock needs a PostgreSQL URL, "
            "e.g. DATABASE_URL=postgresql://user:password@db-host:5432/skiplock; "
            "the embedded database is for development only."
        )
    return start_embedded_postgres(settings.embedded_pg_dir)


def resolve_direct_url(settings: Settings, url: str) -> str:
    """The URL for session work (LISTEN, lease heartbeats, migrations): DATABASE_DIRECT_URL, else `url`
    (what `resolve_database_url` returned, which also checked that the two settings fit together)."""
    return plain_url(settings.database_direct_url) if settings.database_direct_url else url


def _check_direct_url(settings: Settings) -> None:
    """Behind a pooler in transaction mode, a LISTEN would be registered on whichever server connection the
    pooler lent for that one statement, and its notifications would never come back; a session advisory lock
    would be taken and released on different connections. So that mode refuses to start without a direct URL.
    """
    if settings.database_direct_url and not settings.database_url:
        raise ConfigurationError("DATABASE_DIRECT_URL is set but DATABASE_URL is not: set both, or neither")
    if settings.database_pooler == "transaction" and not settings.database_direct_url:
        raise ConfigurationError(
            "DATABASE_POOLER=transaction needs DATABASE_DIRECT_URL: LISTEN/NOTIFY wake-ups, lease heartbeats and"
            " migrations need a session, which a transaction pooler does not keep; set it to a postgresql:// URL"
            " that reaches PostgreSQL directly (not through the pooler)"
        )


def plain_url(url: str) -> str:
    """postgresql+asyncpg://… or postgres://… → postgresql://… (what asyncpg and libpq accept)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    if scheme != "postgresql":
        raise ConfigurationError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    return urlunsplit(parts._replace(scheme=scheme))


def redacted(url: str) -> str:
    """The URL as it may be logged: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg://" + plain_url(url).split("://", 1)[1]


def pooled_connect_options(pooled: bool) -> dict[str, Any]:
    """asyncpg options for a connection through a transaction pooler: no named prepared statements.

    asyncpg names and caches a prepared statement per query on its connection; behind PgBouncer in
    transaction mode (1.18 in Debian 12 forwards no prepared statements; 1.21+ can, with
    `max_prepared_statements`) the next statement may reach another server connection, where that name is
    unknown ("prepared statement ... does not exist") or taken by another client. With the cache off, asyncpg
    uses the unnamed statement and parses it again with each execution, which the pooler passes through.
    """
    return {"statement_cache_size": 0} if pooled else {}


def create_engine(url: str, pool_size: int = 10, *, pooled: bool = False) -> AsyncEngine:
    connect_args: dict[str, Any] = {}
    if pooled:
        # SQLAlchemy's adapter prepares every statement itself, by name: the empty name is the unnamed one.
        connect_args = {
            **pooled_connect_options(True),
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: "",
        }
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def _light_reset(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset (UNLISTEN *, RESET ALL, …) costs a round trip on every release; the queue
    # leaves no session state behind, so only an unfinished transaction needs undoing.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(url: str, min_size: int = 1, max_size: int = 10, *, pooled: bool = False) -> asyncpg.Pool:
    """An asyncpg pool for the queue engine. Statements are prepared and cached per connection, unless the
    URL goes through a transaction pooler (`pooled`)."""
    pool = await asyncpg.create_pool(
        plain_url(url), min_size=min_size, max_size=max_size, reset=_light_reset, **pooled_connect_options(pooled)
    )
    assert pool is not None
    return pool


async def release(session: AsyncSession) -> None:
    """End the session's transaction before the request uses another connection. What it read stays loaded
    (commit, not rollback; sessions do not expire on commit).

    A transaction left open holds its locks while its connection waits. A lock that needs them gone (a
    migration's ALTER TABLE, a TRUNCATE) queues behind them, and every later statement on the jobs table queues
    behind that lock, the request's own statement on its other connection included. That is a deadlock
    PostgreSQL cannot see, because one side of it waits in the application."""
    await session.commit()


async def raw_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under a SQLAlchemy session, inside the session's current transaction."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the database transaction with its first statement: until then,
        # statements sent on the driver's connection would each commit on their own.
        await conn.exec_driver_sql("SELECT 1")
    return driver
