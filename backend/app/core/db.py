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
    if settings.database_url:
        return plain_url(settings.database_url)
    if settings.is_production:
        raise ConfigurationError(
            "DATABASE_URL is not set. In production Skiplock needs a PostgreSQL URL, "
            "e.g. DATABASE_URL=postgresql://user:password@db-host:5432/skiplock; "
            "the embedded database is for development only."
        )
    return start_embedded_postgres(settings.embedded_pg_dir)


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


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def _light_reset(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset (UNLISTEN *, RESET ALL, …) costs a round trip on every release; the queue
    # leaves no session state behind, so only an unfinished transaction needs undoing.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool for the queue engine. Statements are prepared and cached per connection."""
    pool = await asyncpg.create_pool(plain_url(url), min_size=min_size, max_size=max_size, reset=_light_reset)
    assert pool is not None
    return pool


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
